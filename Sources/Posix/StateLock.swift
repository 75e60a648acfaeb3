#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a state directory, held for the life of the process.
///
/// Uses a POSIX record lock, so the kernel releases it on any exit (even `kill -9`)
/// and can name the process that holds it.
public final class StateLock: Sendable {
    public let path: String
    private let fd: FileDescriptor

    public enum Failure: Error, CustomStringConvertible {
        case heldBy(pid: Int32, path: String)
        case system(SystemError)
        public var description: String {
            switch self {
            case .heldBy(let pid, let path): "\(path) is locked by process \(pid) (another qlinkd on this state directory?)"
            case .system(let error): error.description
            }
        }
    }

    /// Takes the lock at `path`, or fails naming the holder's PID.
    public init(path: String) throws(Failure) {
        self.path = path
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, [.readWrite, .create], mode: 0o644) } catch { throw .system(error) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        if fcntl(fd.rawValue, F_SETLK, &lock) != 0 {
            var probe = flock()
            probe.l_type = Int16(F_WRLCK)
            probe.l_whence = Int16(SEEK_SET)
            let holder = fcntl(fd.rawValue, F_GETLK, &probe) == 0 ? probe.l_pid : -1
            fd.close()
            throw .heldBy(pid: holder, path: path)
        }
        do {
            try fd.truncate(to: 0)
            try fd.writeAll(Array("\(getpid())\n".utf8))
        } catch {
            fd.close()
            throw .system(error)
        }
        self.fd = fd
    }

    deinit { fd.close() }
}
