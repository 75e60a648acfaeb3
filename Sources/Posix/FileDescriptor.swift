#if canImport(Glibc)
import Glibc
#endif

/// A raw file descriptor with the few operations the daemon needs; the owner closes it.
public struct FileDescriptor: Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public struct OpenOptions: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readOnly = OpenOptions([])
        public static let writeOnly = OpenOptions(rawValue: O_WRONLY)
        public static let readWrite = OpenOptions(rawValue: O_RDWR)
        public static let create = OpenOptions(rawValue: O_CREAT)
        public static let exclusive = OpenOptions(rawValue: O_EXCL)
        public static let append = OpenOptions(rawValue: O_APPEND)
        public static let truncate = OpenOptions(rawValue: O_TRUNC)
        public static let directory = OpenOptions(rawValue: O_DIRECTORY)
        public static let nonBlocking = OpenOptions(rawValue: O_NONBLOCK)
    }

    /// Opens `path` (always close-on-exec).
    public static func open(_ path: String, _ options: OpenOptions, mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        let fd = try valueOrErrno { Glibc.open(path, options.rawValue | O_CLOEXEC, mode) }.get(path)
        return FileDescriptor(rawValue: fd)
    }

    public func close() {
        _ = Glibc.close(rawValue)
    }

    /// Reads up to `count` bytes; an empty result means end of file.
    public func read(upTo count: Int) throws(SystemError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try buffer.withUnsafeMutableBytes { raw in
            valueOrErrno { Glibc.read(rawValue, raw.baseAddress, count) }
        }.get("read")
        buffer.removeSubrange(n...)
        return buffer
    }

    /// Reads until end of file.
    public func readAll() throws(SystemError) -> [UInt8] {
        var result: [UInt8] = []
        while true {
            let chunk = try read(upTo: 65536)
            if chunk.isEmpty { return result }
            result += chunk
        }
    }

    /// Writes all of `bytes`, continuing after short writes.
    public func writeAll(_ bytes: some Collection<UInt8>) throws(SystemError) {
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let n = try array.withUnsafeBytes { raw in
                valueOrErrno { Glibc.write(rawValue, raw.baseAddress! + offset, raw.count - offset) }
            }.get("write")
            offset += n
        }
    }

    /// Flushes the file's data and metadata to stable storage.
    public func sync() throws(SystemError) {
        try nothingOrErrno { fsync(rawValue) }.get("fsync")
    }

    public func truncate(to length: Int64) throws(SystemError) {
        try nothingOrErrno { ftruncate(rawValue, off_t(length)) }.get("ftruncate")
    }

    public func setNonBlocking() throws(SystemError) {
        let flags = try valueOrErrno { fcntl(rawValue, F_GETFL) }.get("fcntl(F_GETFL)")
        try nothingOrErrno { fcntl(rawValue, F_SETFL, flags | O_NONBLOCK) }.get("fcntl(F_SETFL)")
    }
}
