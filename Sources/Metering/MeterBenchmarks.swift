import Crypto
import HAL
import Logging
import Posix

/// The meter's cost and its flash wear, measured on a simulated clock with every
/// subscriber always active (the worst case the flash budget is set for).
public enum MeterBenchmarks {
    public struct Result: Sendable {
        /// CPU per poll (µs), group commits included on their cadence.
        public var pollCPUMicroseconds: Double
        /// Bytes appended to the journal per simulated day.
        public var bytesPerDay: Int
        /// fsyncs per simulated hour.
        public var fsyncsPerHour: Double
    }

    /// Runs `hours` of polls every `pollInterval` for `subscribers` always-active
    /// subscribers into a journal under `directory`, with the default flush interval.
    public static func run(subscribers: Int, hours: Double, directory: String,
                           pollInterval: Duration = .seconds(5), flushInterval: Duration = .seconds(180)) throws -> Result {
        let key = SigningKey.generate()
        let recovered = try JournalRecovery.open(directory: directory)
        let writer = try JournalWriter(directory: directory, key: key, segmentLimit: 8 << 20, boot: "bench",
                                       lastSeq: recovered.lastSeq, lastHash: recovered.lastHash, segmentPath: recovered.activeSegment)
        let meter = Meter(configuration: .init(flushInterval: flushInterval, counterWidths: [.mac: .bits32]), writer: writer,
                          recovered: recovered, sameBoot: true, now: 0, clockTrusted: { true },
                          logger: Logger(label: "bench", handler: InMemoryLogHandler()))
        let ids = (0..<subscribers).map { (i: Int) -> SubscriberID in
            let bytes: [UInt8] = [2, 0, 0, UInt8(truncatingIfNeeded: i >> 16), UInt8(truncatingIfNeeded: i >> 8), UInt8(truncatingIfNeeded: i)]
            return SubscriberID.mac(MACAddress(bytes: bytes)!)
        }
        var up = [UInt64](repeating: 0, count: subscribers)
        var down = [UInt64](repeating: 0, count: subscribers)
        let step = UInt64(pollInterval.components.seconds) * 1_000_000_000
        let polls = Int(hours * 3600 / Double(pollInterval.components.seconds))
        var cpu: UInt64 = 0
        for poll in 1...polls {
            var readings: [MeterReading] = []
            readings.reserveCapacity(subscribers)
            for i in 0..<subscribers {
                // Each subscriber moves a few hundred kB a poll, varying, counters wrapping at 2^32.
                let upMoved = 20_000 + UInt64((i * 7919 + poll * 104_729) % 50_000)
                let downMoved = 200_000 + UInt64((i * 104_729 + poll * 7919) % 500_000)
                up[i] = (up[i] + upMoved) & 0xFFFF_FFFF
                down[i] = (down[i] + downMoved) & 0xFFFF_FFFF
                readings.append(MeterReading(subscriber: ids[i], counters: TrafficCounters(upBytes: up[i], downBytes: down[i], width: .bits32),
                                             connectedSeconds: UInt64(poll) * 5))
            }
            let before = SystemClock.processCPUMicroseconds()
            meter.observe(readings, scheme: .mac, at: UInt64(poll) * step)
            cpu += SystemClock.processCPUMicroseconds() - before
        }
        return Result(pollCPUMicroseconds: Double(cpu) / Double(polls),
                      bytesPerDay: Int(Double(meter.bytesAppended) * 24 / hours),
                      fsyncsPerHour: Double(meter.fsyncs) / hours)
    }
}
