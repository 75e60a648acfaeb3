#if canImport(Glibc)
import Glibc
#endif
import Crypto
import HAL
import Logging
import Posix
@testable import Metering

final class TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/qlink-meter-XXXXXX".utf8CString)
        path = String(cString: mkdtemp(&template)!)
    }
    deinit { _ = system("rm -rf '\(path)'") }
}

let stationKey = SigningKey(seed: [UInt8](repeating: 42, count: 32))!
let otherKey = SigningKey(seed: [UInt8](repeating: 43, count: 32))!
let second: UInt64 = 1_000_000_000

func mac(_ n: UInt8) -> SubscriberID { .mac(MACAddress(bytes: [2, 0, 0, 0, 0, n])!) }

func counters(_ up: UInt64, _ down: UInt64, width: CounterWidth = .bits32) -> TrafficCounters {
    TrafficCounters(upBytes: up, downBytes: down, upPackets: up / 100, downPackets: down / 100, width: width)
}

/// A meter on a fresh or existing journal directory, as the daemon opens it.
func openMeter(_ directory: String, key: SigningKey = stationKey, flush: Duration = .seconds(60), now: UInt64,
               sameBoot: Bool = true, segmentLimit: Int = 1 << 20) throws -> (Meter, RecoveredJournal) {
    let recovered = try JournalRecovery.open(directory: directory)
    let writer = try JournalWriter(directory: directory, key: key, segmentLimit: segmentLimit, boot: "test-boot",
                                   lastSeq: recovered.lastSeq, lastHash: recovered.lastHash,
                                   segmentPath: sameBoot ? recovered.activeSegment : nil)
    let meter = Meter(configuration: .init(flushInterval: flush, counterWidths: [.mac: .bits32, .imsi: .bits64]),
                      writer: writer, recovered: recovered, sameBoot: sameBoot, now: now, clockTrusted: { false },
                      logger: Logger(label: "test", handler: InMemoryLogHandler()))
    return (meter, recovered)
}

/// Totals per subscriber over the whole journal, from its records.
func journalTotals(_ directory: String) throws -> [String: (up: UInt64, down: UInt64)] {
    var totals: [String: (up: UInt64, down: UInt64)] = [:]
    for path in try JournalFiles.segments(in: directory) {
        for line in JournalLines(try FileSystem.readFile(path)).complete {
            let record = try JournalRecord(line: line)
            guard record.kind == .usage, let sub = record.subscriber else { continue }
            totals[sub, default: (0, 0)].up += record.up ?? 0
            totals[sub, default: (0, 0)].down += record.down ?? 0
        }
    }
    return totals
}

func reading(_ id: SubscriberID, _ c: TrafficCounters?, connected: UInt64? = nil) -> MeterReading {
    MeterReading(subscriber: id, counters: c, connectedSeconds: connected)
}
