import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Readings of the system's clocks.
public enum SystemClock {
    /// Nanoseconds on CLOCK_MONOTONIC: never steps, does not count suspend.
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Milliseconds since the Unix epoch on the wall clock (which may step).
    public static func wallMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Whether the kernel says the wall clock is synchronised (by NTP or a PPS/GPS source):
    /// `adjtimex` reports TIME_ERROR, or STA_UNSYNC set, until a time daemon has disciplined it.
    public static func wallClockSynchronized() -> Bool {
        var t = timex()
        let state = adjtimex(&t)
        return state >= 0 && state != TIME_ERROR && t.status & STA_UNSYNC == 0
    }

    /// This boot's identity (`/proc/sys/kernel/random/boot_id`): monotonic readings from
    /// different boots cannot be compared.
    public static func bootID() -> String {
        guard let bytes = try? FileSystem.readFile("/proc/sys/kernel/random/boot_id") else { return "unknown" }
        return String(decoding: bytes.filter { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    }

    /// CPU time used by this process so far, in microseconds.
    public static func processCPUMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}

/// Facts about the running process.
public enum ProcessInfo {
    public static var id: Int32 { getpid() }

    /// An environment variable, if set.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Resident set size in KiB, from /proc/self/status.
    public static func residentKilobytes(pid: Int32? = nil) -> Int? {
        let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
        guard let bytes = try? FileSystem.readFile(path) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst(6).trimmingPrefix(while: { $0 == " " || $0 == "\t" }).prefix(while: \.isNumber))
        }
        return nil
    }
}
