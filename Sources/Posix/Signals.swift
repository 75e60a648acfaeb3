import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Delivers process signals as an async sequence, through a signalfd.
///
/// Call `SignalSource.block(_:)` first thing in `main`, before any thread starts, so the
/// signals are queued for the signalfd instead of killing the process.
public final class SignalSource: Sendable {
    private let socket: UnixSocket

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
        let fd = try valueOrErrno { signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC)) }.get("signalfd")
        socket = UnixSocket(fd: fd, kind: .datagram)
    }

    /// Waits for the next signal and returns its number.
    public func next() async throws -> Int32 {
        while true {
            let bytes = try await socket.receive(maxBytes: MemoryLayout<signalfd_siginfo>.size)
            if bytes.count >= 4 {
                return bytes.withUnsafeBytes { Int32(bitPattern: $0.loadUnaligned(as: UInt32.self)) }
            }
        }
    }

    public func close() { socket.close() }
}
