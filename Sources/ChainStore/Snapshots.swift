import Ledger
import Posix

/// Snapshots of the state database: `<directory>/snapshots/state-<height, 20 digits>.db`,
/// each a consistent copy made with `VACUUM INTO` after the block of that height was
/// committed, fsynced, then renamed into place (a `.tmp` file is never a snapshot).
/// Recovery starts from the newest usable one when `state.db` is missing or damaged,
/// and replays the log above it.
extension ChainStore {
    static func snapshotDirectory(_ directory: String) -> String { "\(directory)/snapshots" }

    static func statePath(_ directory: String) -> String { "\(directory)/state.db" }

    static func snapshotPath(_ directory: String, height: UInt64) -> String {
        let digits = String(height)
        return "\(snapshotDirectory(directory))/state-\(String(repeating: "0", count: max(0, 20 - digits.count)))\(digits).db"
    }

    /// Heights of the snapshots on disk, ascending. Leftover `.tmp` files are removed.
    static func snapshotHeights(_ directory: String) -> [UInt64] {
        let folder = snapshotDirectory(directory)
        let names = (try? FileSystem.listDirectory(folder)) ?? []
        var heights: [UInt64] = []
        for name in names {
            if name.hasSuffix(".tmp") {
                FileSystem.remove("\(folder)/\(name)")
            } else if name.hasPrefix("state-"), name.hasSuffix(".db"), name.count == 29,
                      let height = UInt64(name.dropFirst(6).prefix(20)) {
                heights.append(height)
            }
        }
        return heights.sorted()
    }

    /// Heights of the snapshots kept, ascending.
    public var snapshotHeights: [UInt64] { Self.snapshotHeights(directory) }

    /// Copies the state as of the head to a snapshot named by the head's height, made
    /// durable, then deletes all but the newest `snapshotsKept`. Returns its path.
    @discardableResult
    public func takeSnapshot() throws(ChainStoreError) -> String {
        try checkUsable()
        try flush()
        let height = head.height
        let path = Self.snapshotPath(directory, height: height)
        let temporary = path + ".tmp"
        FileSystem.remove(temporary)
        do {
            try state.vacuum(into: temporary)
            let fd = try FileDescriptor.open(temporary, .readOnly)
            defer { fd.close() }
            try fd.sync()
            try FileSystem.move(temporary, to: path)
            try FileSystem.syncDirectory(Self.snapshotDirectory(directory))
        } catch let error as SystemError {
            FileSystem.remove(temporary)
            throw .system(error)
        } catch let error as ChainStoreError {
            FileSystem.remove(temporary)
            throw error
        } catch {
            throw .corrupt("\(error)")
        }
        let heights = Self.snapshotHeights(directory)
        for old in heights.dropLast(max(1, configuration.snapshotsKept)) {
            FileSystem.remove(Self.snapshotPath(directory, height: old))
        }
        return path
    }

    /// A snapshot that fails does not fail the block that triggered it: the error is kept
    /// in `snapshotFailure` (for the daemon's log) and the next interval tries again.
    func snapshotQuietly() {
        do {
            try takeSnapshot()
            snapshotFailure = nil
        } catch {
            snapshotFailure = error
        }
    }

    /// Installs snapshot `height` as the state database: copied and synced beside it, the
    /// old WAL removed (it belongs to another database), then renamed into place.
    static func restoreSnapshot(_ directory: String, height: UInt64) throws(ChainStoreError) {
        let target = statePath(directory)
        let temporary = target + ".tmp"
        do {
            let source = try FileDescriptor.open(snapshotPath(directory, height: height), .readOnly)
            defer { source.close() }
            let copy = try FileDescriptor.open(temporary, [.writeOnly, .create, .truncate], mode: 0o600)
            defer { copy.close() }
            while true {
                let chunk = try source.read(upTo: 1 << 20)
                if chunk.isEmpty { break }
                try copy.writeAll(chunk)
            }
            try copy.sync()
            FileSystem.remove(target + "-wal")
            FileSystem.remove(target + "-shm")
            try FileSystem.move(temporary, to: target)
            try FileSystem.syncDirectory(directory)
        } catch {
            FileSystem.remove(temporary)
            throw .system(error)
        }
    }

    /// Moves an unusable state database (and its WAL) aside as `state.db.discarded`,
    /// replacing an older one, so it can be examined but never mistaken for the state.
    static func discardState(_ directory: String) -> String {
        let path = statePath(directory)
        let aside = path + ".discarded"
        FileSystem.remove(aside + "-wal")
        try? FileSystem.move(path, to: aside)
        if FileSystem.exists(path + "-wal") { try? FileSystem.move(path + "-wal", to: aside + "-wal") }
        FileSystem.remove(path + "-shm")
        try? FileSystem.syncDirectory(directory)
        return aside
    }
}
