import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Delivers process signals as an async sequence, through a signalfd.
///
/// Call `SignalSource.block(_:)` first thing in `main`, before any thread starts, so the
/// signals are queued for the signalfd instead of killing the process.
public final class SignalSource: Sendable {
    private let fd: Int32

    /// Blocks `signals` in the calling thread and every thread it creates later.
    public static func block(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// A source for `signals` (which must already be blocked).
    public init(_ signals: [Int32]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        fd = try valueOrErrno { signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC)) }.get("signalfd")
    }

    /// Waits for the next signal and returns its number.
    public func next() async throws -> Int32 {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while true {
            let n = Glibc.read(fd, &info, size)
            if n == size { return Int32(bitPattern: info.ssi_signo) }
            let error = Errno.current
            guard n < 0, error == .wouldBlock || error == .interrupted else { throw SystemError(error, "read signalfd") }
            if error == .wouldBlock { try await IOReactor.shared.wait(for: .readable, on: fd) }
        }
    }

    public func close() {
        IOReactor.shared.forget(fd)
        Glibc.close(fd)
    }
}
