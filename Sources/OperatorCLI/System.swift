import CLinux
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// The few C calls `qlinkctl` makes itself; the only file of this module that touches C.
public enum System {
    /// The signals that stop `qlinkctl`: Ctrl-C and `kill`.
    public static let stopSignals: [Int32] = [SIGINT, SIGTERM]

    /// Readies the process, first thing in `main` before any thread starts: blocks
    /// `stopSignals` so they queue for a signalfd (see `Interrupt.signals`), and ignores
    /// SIGPIPE so a closed pipe on standard output surfaces as EPIPE instead of a kill.
    public static func prepareProcess() {
        SignalSource.block(stopSignals)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Leaves the process with `status`.
    public static func exit(_ status: Int32) -> Never {
        Glibc.exit(status)
    }

    /// errno values the Posix module does not name.
    static let notDirectory = Errno(rawValue: ENOTDIR)
    static let notPermitted = Errno(rawValue: EPERM)

    static func isTerminal(_ descriptor: Int32) -> Bool {
        isatty(descriptor) == 1
    }

    /// The local time zone's offset from UTC, in seconds, at `milliseconds` since the epoch.
    public static func utcOffsetSeconds(atMilliseconds milliseconds: Int64) -> Int {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return 0 }
        return Int(parts.tm_gmtoff)
    }

    /// Waits for one of `signals` (already blocked) on a signalfd of our own and returns it.
    ///
    /// A stand-in for `SignalSource.next()`, which reads its signalfd with `recvfrom` and so
    /// fails with ENOTSOCK; used only when that call throws.
    static func waitForSignal(_ signals: [Int32]) async throws -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        let fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError(.current, "signalfd") }
        defer {
            IOReactor.shared.forget(fd)
            close(fd)
        }
        while true {
            var info = signalfd_siginfo()
            let size = MemoryLayout<signalfd_siginfo>.size
            let n = read(fd, &info, size)
            if n == size { return Int32(bitPattern: info.ssi_signo) }
            let error = Errno.current
            guard n < 0, error == .wouldBlock || error == .interrupted else { throw SystemError(error, "read signalfd") }
            try await IOReactor.shared.wait(for: .readable, on: fd)
        }
    }
}
