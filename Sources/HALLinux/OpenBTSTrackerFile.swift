import FoundationEssentials
import HAL
import Posix

/// The attach tracker's state, kept in the runtime directory (tmpfs: no flash wear) after
/// every reading, so that a qlinkd that crashed and starts again while the same OpenBTS
/// process runs counts on in the same terms: which MS records each open session counted,
/// up to which reading, and which records are retired. Without it, the records of a
/// subscriber who detached and attached again while qlinkd was down (OpenBTS lists them
/// for 600 s, now under the new context) would be counted into the new session.
///
/// The state is void for any other OpenBTS process: another boot, another release, or a
/// start time (from `uptime`) that differs by more than both readings' uncertainty.
struct OpenBTSTrackerFile: Codable, Sendable {
    /// The OpenBTS process a state is about.
    struct Process: Codable, Sendable, Equatable {
        let boot: String
        let release: String
        /// When it started, on this boot's monotonic clock (ns), and how far off that may be.
        let startedAt: UInt64
        let uncertainty: UInt64

        /// The process that answered `version` and `uptime` just now.
        init(release: String, uptime: OpenBTSUptime, now: UInt64 = SystemClock.monotonicNanoseconds(), boot: String = SystemClock.bootID()) {
            self.boot = boot
            self.release = release
            startedAt = now &- min(now, UInt64(uptime.seconds * 1e9))
            // The uptime's last digit, plus the time the two commands took.
            uncertainty = UInt64(uptime.uncertainty * 1e9) + 2_000_000_000
        }

        func isSame(as other: Process) -> Bool {
            let apart = startedAt > other.startedAt ? startedAt - other.startedAt : other.startedAt - startedAt
            return boot == other.boot && release == other.release && apart <= uncertainty + other.uncertainty
        }
    }

    let process: Process
    let tracker: OpenBTSAttachTracker

    /// The state saved at `path`; nil when there is none or it does not decode (a state that
    /// cannot be trusted is no state).
    static func load(_ path: String) -> OpenBTSTrackerFile? {
        guard let bytes = try? FileSystem.readRegularFile(path, limit: 1 << 22) else { return nil }
        return try? JSONDecoder().decode(OpenBTSTrackerFile.self, from: Data(bytes))
    }

    func save(to path: String) throws(SystemError) {
        let data: Data
        do { data = try JSONEncoder().encode(self) } catch { throw SystemError(.invalidArgument, "encode \(path): \(error)") }
        try FileSystem.replaceAtomically(path, Array(data), mode: 0o600)
    }
}
