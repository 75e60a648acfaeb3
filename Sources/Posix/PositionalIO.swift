#if canImport(Glibc)
import Glibc
#endif

// Positional reads, data-only flushes and renames, for append-only logs that are read
// back by offset and files replaced whole (ChainStore's block log and snapshots).
extension FileDescriptor {
    /// Reads up to `count` bytes at `offset` without moving the file position (pread);
    /// fewer bytes only at end of file.
    public func read(upTo count: Int, at offset: Int64) throws(SystemError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = try buffer.withUnsafeMutableBytes { raw in
                valueOrErrno { pread(rawValue, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            }.get("pread")
            if n == 0 { break }
            done += n
        }
        buffer.removeSubrange(done...)
        return buffer
    }

    /// The file's size in bytes (fstat).
    public func size() throws(SystemError) -> Int64 {
        var info = stat()
        try nothingOrErrno { fstat(rawValue, &info) }.get("fstat")
        return Int64(info.st_size)
    }

    /// Flushes the file's data, and the metadata needed to read it back (its size), to
    /// stable storage: fdatasync, cheaper than `sync()` on flash.
    public func dataSync() throws(SystemError) {
        try nothingOrErrno { fdatasync(rawValue) }.get("fdatasync")
    }
}

extension FileSystem {
    /// Renames `from` to `to`, atomically replacing `to`; sync the directory afterwards
    /// for the new name to survive a power cut.
    public static func move(_ from: String, to: String) throws(SystemError) {
        try nothingOrErrno { Glibc.rename(from, to) }.get("rename \(from) to \(to)")
    }

    /// Removes an empty directory if it exists.
    public static func removeDirectory(_ path: String) {
        rmdir(path)
    }
}
