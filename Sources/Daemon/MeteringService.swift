import Dispatch
import HAL
import Logging
import Metering
import Posix

/// Owns the meter and its journal on one serial queue, off Swift's cooperative threads
/// (a group commit waits for fsync). Events and poll results are queued in the order they
/// arrive, so the meter sees a source's history exactly as the source told it.
public final class MeteringService: Service, @unchecked Sendable {
    public let name = "metering"
    private let queue = DispatchQueue(label: "qlink.metering")
    private let meter: Meter
    private let logger: Logger
    /// How long a disconnect waits for the source's final counters (0: it does not send them).
    private let finalCountersWait: Duration
    /// Callbacks of sessions waiting for their final counters (touched only on `queue`).
    private var waitingForFinal: [SubscriberID: [@Sendable () -> Void]] = [:]

    public struct Status: Sendable {
        public var journal: String
        public var openSessions: Int
        public var bytesAppended: Int
        public var fsyncs: Int
    }

    /// Opens the journal (cutting a torn tail, reporting damage) and the meter over it.
    public init(settings: Settings, key: Crypto.SigningKey, logger: Logger) throws {
        finalCountersWait = settings.accountingEndpoint == nil ? .zero : settings.finalCountersWait
        let directory = settings.meteringDirectory
        let recovered = try JournalRecovery.open(directory: directory)
        for note in recovered.notes { logger.warning("metering journal: \(note)") }
        if let damage = recovered.damage { logger.critical("metering journal damaged at \(damage); run qlinkctl meter verify") }
        let boot = SystemClock.bootID()
        let sameBoot = recovered.boot == nil || recovered.boot == boot
        let writer = try JournalWriter(directory: directory, key: key, segmentLimit: settings.segmentBytes, boot: boot,
                                       lastSeq: recovered.lastSeq, lastHash: recovered.lastHash,
                                       segmentPath: sameBoot ? recovered.activeSegment : nil)
        meter = Meter(configuration: .init(flushInterval: settings.flushInterval,
                                           counterWidths: [.mac: settings.counterWidth, .imsi: .bits64]),
                      writer: writer, recovered: recovered, sameBoot: sameBoot, now: SystemClock.monotonicNanoseconds(),
                      clockTrusted: { SystemClock.wallClockSynchronized() }, logger: logger)
        self.logger = logger
        logger.info("metering journal at \(directory): seq \(recovered.lastSeq), \(recovered.openSessions.count) open session(s)")
    }

    /// Waits for shutdown, then writes what is still only in memory.
    public func run() async throws {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        await perform { meter in meter.flush(at: SystemClock.monotonicNanoseconds()) }
        logger.info("metering journal flushed")
    }

    public func sessionStarted(_ id: SubscriberID) {
        let now = SystemClock.monotonicNanoseconds()
        queue.async { self.meter.sessionStarted(id, at: now) }
    }

    /// Calls `then` once the session's end is durable. Without final counters, and when the
    /// source sends them separately, the end waits up to `final_counters_wait` for them.
    public func sessionEnded(_ id: SubscriberID, finalCounters: TrafficCounters?, then: @escaping @Sendable () -> Void) {
        let now = SystemClock.monotonicNanoseconds()
        queue.async {
            guard finalCounters == nil, self.finalCountersWait > .zero, self.meter.hasSession(id) else {
                self.meter.sessionEnded(id, finalCounters: finalCounters, at: now)
                then()
                return
            }
            self.meter.sessionEnding(id, at: now)
            self.waitingForFinal[id, default: []].append(then)
            let wait = self.finalCountersWait
            self.queue.asyncAfter(deadline: .now() + .nanoseconds(Int(wait.nanosecondsValue))) {
                guard let callbacks = self.waitingForFinal.removeValue(forKey: id) else { return }
                self.logger.notice("\(id): no final counters within \(wait); its last poll is its last reading")
                self.meter.sessionEnded(id, finalCounters: nil, at: SystemClock.monotonicNanoseconds())
                callbacks.forEach { $0() }
            }
        }
    }

    /// The source's final counters of a session (they may come before or after its disconnect).
    public func finalCounters(_ id: SubscriberID, _ counters: TrafficCounters, sessionSeconds: UInt64?) {
        let now = SystemClock.monotonicNanoseconds()
        queue.async {
            self.meter.sessionEnded(id, finalCounters: counters, sessionSeconds: sessionSeconds, at: now)
            self.waitingForFinal.removeValue(forKey: id)?.forEach { $0() }
        }
    }

    public func sourceRestarted(_ scheme: SubscriberID.Scheme) {
        let now = SystemClock.monotonicNanoseconds()
        queue.async { self.meter.sourceRestarted(scheme, at: now) }
    }

    /// A poll's readings; `taken` is when the poll began (monotonic ns).
    public func observe(_ readings: [MeterReading], scheme: SubscriberID.Scheme, taken: UInt64) {
        let now = SystemClock.monotonicNanoseconds()
        queue.async { self.meter.observe(readings, scheme: scheme, taken: taken, at: now) }
    }

    public func status() async -> Status {
        await perform { meter in
            let journal: String
            switch meter.journalState {
            case .ok: journal = "ok"
            case .stopped(let reason): journal = "stopped: \(reason)"
            }
            return Status(journal: journal, openSessions: meter.openSessions.count, bytesAppended: meter.bytesAppended, fsyncs: meter.fsyncs)
        }
    }

    private func perform<T: Sendable>(_ body: @escaping @Sendable (Meter) -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body(self.meter)) }
        }
    }
}

import Crypto

extension Duration {
    var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
