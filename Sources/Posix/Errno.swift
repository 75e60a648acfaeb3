#if canImport(Glibc)
import Glibc
#endif

/// An error number from the C library, typed so callers can match on it.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    public static var current: Errno { Errno(rawValue: errno) }

    public var description: String { String(cString: strerror(rawValue)) }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    public static let noEntry = Errno(rawValue: ENOENT)
    public static let exists = Errno(rawValue: EEXIST)
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let messageTooLong = Errno(rawValue: EMSGSIZE)
    public static let notConnected = Errno(rawValue: ENOTCONN)
    public static let accessDenied = Errno(rawValue: EACCES)
    public static let invalidArgument = Errno(rawValue: EINVAL)
}

/// An error from a system call, naming what was being done (a path, a peer).
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public let errno: Errno
    public let context: String
    public init(_ errno: Errno, _ context: String) {
        self.errno = errno
        self.context = context
    }
    public var description: String { "\(context): \(errno)" }
}

extension Result where Failure == Errno {
    /// Unwraps, naming `context` in the thrown error.
    @inlinable public func get(_ context: @autoclosure () -> String) throws(SystemError) -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let errno): throw SystemError(errno, context())
        }
    }
}
