#if canImport(Glibc)
import Glibc
#endif

/// Durable, crash-safe file operations: what is reported written survives a power cut.
public enum FileSystem {
    /// Reads a whole file.
    public static func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { fd.close() }
        do { return try fd.readAll() } catch { throw SystemError(error.errno, path) }
    }

    /// Reads a regular file of at most `limit` bytes; anything else (a device, a FIFO, a
    /// file grown past the limit) is refused rather than read without end.
    public static func readRegularFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { fd.close() }
        var info = stat()
        try nothingOrErrno { fstat(fd.rawValue, &info) }.get("stat \(path)")
        guard info.st_mode & S_IFMT == S_IFREG else { throw SystemError(.invalidArgument, "\(path) is not a regular file") }
        guard Int(info.st_size) <= limit else { throw SystemError(Errno(rawValue: EFBIG), "\(path) is larger than \(limit) bytes") }
        do { return try fd.readAll() } catch { throw SystemError(error.errno, path) }
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Creates `path` and its missing parents.
    public static func createDirectory(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw SystemError(.current, "mkdir \(prefix)")
            }
            prefix += "/"
        }
    }

    /// Flushes a directory so that the names created in it survive a power cut.
    public static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = try FileDescriptor.open(path, [.readOnly, .directory])
        defer { fd.close() }
        do { try fd.sync() } catch { throw SystemError(error.errno, "fsync \(path)") }
    }

    /// Writes `bytes` to `path` so that a crash leaves either the old file or the new one.
    ///
    /// With `replace == false` an existing file is never touched and `Errno.exists` is thrown.
    public static func writeDurably(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, replace: Bool = true) throws(SystemError) {
        try write(path, bytes, mode: mode, replace: replace, durable: true)
    }

    /// Replaces `path` with `bytes` so that a crash of this process leaves either the old file
    /// or the new one; nothing is flushed, so a power cut may leave neither. For state kept
    /// in the runtime directory (tmpfs), which must not wear flash.
    public static func replaceAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        try write(path, bytes, mode: mode, replace: true, durable: false)
    }

    private static func write(_ path: String, _ bytes: [UInt8], mode: mode_t, replace: Bool, durable: Bool) throws(SystemError) {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = try FileDescriptor.open(temporary, [.writeOnly, .create, .truncate], mode: mode)
        do {
            try fd.writeAll(bytes)
            if durable { try fd.sync() }
            fd.close()
        } catch {
            fd.close()
            unlink(temporary)
            throw SystemError(error.errno, "write \(temporary)")
        }
        // link() refuses to replace an existing name, rename() replaces atomically.
        let result = replace
            ? nothingOrErrno { rename(temporary, path) }
            : nothingOrErrno { link(temporary, path) }
        if !replace || result.isFailure { unlink(temporary) }
        try result.get(replace ? "rename \(path)" : "link \(path)")
        if durable { try syncDirectory(parent(of: path)) }
    }

    /// The directory part of `path` ("." when there is none).
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Removes a file if it exists.
    public static func remove(_ path: String) {
        unlink(path)
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}

extension FileSystem {
    /// The names in a directory, without `.` and `..`.
    public static func listDirectory(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError(.current, "opendir \(path)") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

extension FileSystem {
    /// The permission bits of `path` (e.g. 0o600).
    public static func permissions(_ path: String) throws(SystemError) -> mode_t {
        var info = stat()
        try nothingOrErrno { stat(path, &info) }.get("stat \(path)")
        return info.st_mode & 0o7777
    }
}

extension FileSystem {
    /// The size of `path` in bytes.
    public static func size(of path: String) throws(SystemError) -> Int {
        var info = stat()
        try nothingOrErrno { stat(path, &info) }.get("stat \(path)")
        return Int(info.st_size)
    }

    /// Cuts `path` to `length` bytes and flushes it.
    public static func truncate(_ path: String, to length: Int) throws(SystemError) {
        let fd = try FileDescriptor.open(path, .writeOnly)
        defer { fd.close() }
        try fd.truncate(to: Int64(length))
        try fd.sync()
    }
}
