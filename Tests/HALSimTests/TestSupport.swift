import HAL
@testable import HALSim
import Posix
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed by `cleanUp`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/halsim-test-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SystemError(.current, "mkdtemp")
        }
        path = String(cString: made)
    }

    func cleanUp() {
        Self.remove(path)
    }

    /// Removes `path` and everything under it.
    static func remove(_ path: String) {
        if let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { remove("\(path)/\(name)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Collects the events a world emits.
final class EventRecorder: Sendable {
    private let storage = Mutex<[APEvent]>([])
    var events: [APEvent] { storage.withLock { $0 } }
    var messages: [String] {
        events.compactMap { if case .message(_, let text) = $0 { return text } else { return nil } }
    }
    func record(_ events: [APEvent]) { storage.withLock { $0 += events } }
    func clear() { storage.withLock { $0.removeAll() } }
}

extension Scenario {
    /// Everyone online at once and for hours: a stable population for protocol tests
    /// (no UEs unless asked for).
    static func everyoneOnline(subscribers: Int = 3, ues: Int = 0, reconnect: Double = 30) -> Scenario {
        Scenario(name: "test", subscribers: subscribers, ues: ues, startOfDay: 20 * 3600, meanSession: 100 * 3600,
                 arrivalsPerHour: 1_000_000, trafficScale: 1, reconnectDelay: reconnect)
    }
}

/// The MACs a world with `seed` and `subscribers` gives its subscribers (profiles depend only on these).
func subscriberMACs(seed: UInt64, subscribers: Int) -> [MACAddress] {
    var taken: Set<MACAddress> = []
    return (0..<subscribers).map { Subscriber(index: $0, seed: seed, taken: &taken).mac! }
}

extension [StationSnapshot] {
    /// The stations without `connected_time` (real seconds since association, which runs on
    /// while the world is paused, as it does for a real station that stays associated).
    var frozen: [StationSnapshot] { map { var s = $0; s.connectedSeconds = 0; return s } }
}

extension World {
    /// Advances in `steps` equal real-time steps of `step`.
    func advance(_ steps: Int, of step: Duration) {
        for _ in 0..<steps { advance(by: step) }
    }
}
