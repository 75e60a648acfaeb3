import Ledger
import Posix

/// The append-only block log: segment files `<directory>/<first height, 20 digits>.log`,
/// each a sequence of checksummed records (see `LogRecord`): blocks in height order, and
/// finality marks between them. A new segment starts (with a block) once the current
/// one would exceed `segmentLimit`.
///
/// Appends are written with one `write` per segment and made durable with one
/// `fdatasync` per call (group commit); a new segment's name is made durable with an
/// fsync of the directory. Nothing is ever rewritten in place: the log only grows, is
/// cut back at its tail (a torn record after a crash, or a fork switch), or loses
/// whole segments at its tail.
///
/// The height → position and id → height index lives in the state database's `blocks`
/// table (written in the same transaction as the state of each block), and is rebuilt
/// from the log for every block the state has not applied; see `ChainStore`.
public final class BlockLog {
    /// The folder of the segment files.
    public let directory: String
    /// Bytes after which a block starts a new segment.
    public let segmentLimit: Int64
    /// First heights of the segments, ascending.
    public private(set) var segments: [UInt64] = []
    /// Where the next record goes (the end of the last segment).
    public private(set) var end: LogPosition
    private var tail: FileDescriptor?
    /// The tail holds writes not yet fsynced (finality marks are appended unsynced).
    private var unsynced = false
    private var readers: [(segment: UInt64, fd: FileDescriptor)] = []

    /// Opens (creating the directory) without reading records; `ChainStore` scans the
    /// part of the log its state has not applied.
    public init(directory: String, segmentLimit: Int64 = 64 << 20) throws(ChainStoreError) {
        self.directory = directory
        self.segmentLimit = max(4096, segmentLimit)
        end = LogPosition(segment: 0, offset: 0)
        do {
            try FileSystem.createDirectory(directory)
            for name in try FileSystem.listDirectory(directory) where name.hasSuffix(".log") {
                guard name.count == 24, let first = UInt64(name.prefix(20)) else {
                    throw ChainStoreError.corrupt("\(directory)/\(name): not a segment name")
                }
                segments.append(first)
            }
        } catch let error as SystemError {
            throw .system(error)
        } catch let error as ChainStoreError {
            throw error
        } catch {
            throw .corrupt("\(error)")
        }
        segments.sort()
        try openTail()
    }

    deinit { close() }

    /// Closes every descriptor.
    public func close() {
        tail?.close()
        tail = nil
        for reader in readers { reader.fd.close() }
        readers.removeAll()
    }

    /// `00000000000000000001.log` for 1.
    static func segmentName(_ first: UInt64) -> String {
        let digits = String(first)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    func path(of segment: UInt64) -> String { "\(directory)/\(Self.segmentName(segment))" }

    /// The first position of the log (end of log when it is empty).
    public var start: LogPosition {
        LogPosition(segment: segments.first ?? end.segment, offset: 0)
    }

    private func openTail() throws(ChainStoreError) {
        tail?.close()
        tail = nil
        guard let last = segments.last else {
            end = LogPosition(segment: 0, offset: 0)
            return
        }
        do {
            let fd = try FileDescriptor.open(path(of: last), [.readWrite, .append])
            tail = fd
            end = LogPosition(segment: last, offset: try fd.size())
        } catch {
            throw .system(error)
        }
    }

    /// Appends `records` in order and, with `sync`, makes them durable before returning.
    /// Returns each record's location. A block record starts a new segment when the
    /// current one would pass the limit; a mark is dropped when the log has no segment
    /// (there is no block to be final). On a write error the tail is cut back to where
    /// it was, so no partial record stays behind.
    @discardableResult
    func append(_ records: [LogRecord], sync: Bool = true) throws(ChainStoreError) -> [BlockLocation] {
        var locations: [BlockLocation] = []
        var pending: [UInt8] = []
        pending.reserveCapacity(records.reduce(0) { $0 + $1.encodedLength })
        for record in records {
            let rolls = record.kind == .block
                && (tail == nil || (end.offset + Int64(pending.count) > 0
                    && end.offset + Int64(pending.count + record.encodedLength) > segmentLimit))
            if rolls {
                try flush(&pending, sync: sync)
                try startSegment(record.height)
            }
            guard tail != nil else { continue }
            locations.append(BlockLocation(segment: end.segment, offset: end.offset + Int64(pending.count),
                                           length: record.encodedLength))
            record.encode(into: &pending)
        }
        try flush(&pending, sync: sync)
        return locations
    }

    private func flush(_ pending: inout [UInt8], sync: Bool) throws(ChainStoreError) {
        guard let tail, !pending.isEmpty else { return }
        do {
            try tail.writeAll(pending)
            if sync { try tail.dataSync() }
            unsynced = !sync
        } catch {
            try? tail.truncate(to: end.offset)
            throw .system(error)
        }
        end.offset += Int64(pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    private func startSegment(_ first: UInt64) throws(ChainStoreError) {
        guard segments.last.map({ first > $0 }) ?? true else {
            throw .corrupt("segment \(Self.segmentName(first)) would not follow \(Self.segmentName(segments.last!))")
        }
        do {
            // A torn record may only ever be at the end of the last segment: the one
            // being left must be whole on disk before the next one exists.
            if unsynced { try tail?.dataSync() }
            unsynced = false
            let fd = try FileDescriptor.open(path(of: first), [.readWrite, .append, .create, .exclusive])
            tail?.close()
            tail = fd
            try FileSystem.syncDirectory(directory)
        } catch {
            throw .system(error)
        }
        segments.append(first)
        end = LogPosition(segment: first, offset: 0)
    }

    /// Makes everything appended so far durable.
    func sync() throws(ChainStoreError) {
        do { try tail?.dataSync() } catch { throw .system(error) }
        unsynced = false
    }

    /// Reads and checks the record at `location`.
    func read(_ location: BlockLocation) throws(ChainStoreError) -> LogRecord {
        let bytes: [UInt8]
        do {
            bytes = try reader(location.segment).read(upTo: location.length, at: location.offset)
        } catch {
            throw .system(error)
        }
        switch LogRecord.decode(bytes, at: 0) {
        case let .success(record) where record.encodedLength == location.length: return record
        case .success: throw .corrupt("\(location.position): record length differs from the index")
        case let .failure(reason): throw .corrupt("\(location.position): \(reason)")
        }
    }

    /// A descriptor for reading `segment` (the tail's, or one of a few cached).
    func reader(_ segment: UInt64) throws(SystemError) -> FileDescriptor {
        if segment == segments.last, let tail { return tail }
        if let index = readers.firstIndex(where: { $0.segment == segment }) { return readers[index].fd }
        guard segments.contains(segment) else { throw SystemError(.noEntry, path(of: segment)) }
        let fd = try FileDescriptor.open(path(of: segment), .readOnly)
        if readers.count >= 4 { readers.removeFirst().fd.close() }
        readers.append((segment, fd))
        return fd
    }

    /// The size of `segment` in bytes.
    func size(of segment: UInt64) throws(ChainStoreError) -> Int64 {
        if segment == end.segment, tail != nil { return end.offset }
        do { return try reader(segment).size() } catch { throw .system(error) }
    }

    /// The segment after `segment`, if any.
    func segment(after segment: UInt64) -> UInt64? { segments.first { $0 > segment } }

    /// Cuts the log at `position`: everything from there on is removed (later segments
    /// deleted, the segment itself truncated, or deleted if nothing stays in it), and
    /// the cut made durable. Returns the bytes removed.
    @discardableResult
    func truncate(to position: LogPosition) throws(ChainStoreError) -> Int64 {
        var removed: Int64 = 0
        var removedNames = false
        for segment in segments.reversed() where segment > position.segment || (segment == position.segment && position.offset == 0) {
            removed += (try? size(of: segment)) ?? 0
            closeReader(segment)
            FileSystem.remove(path(of: segment))
            segments.removeAll { $0 == segment }
            removedNames = true
        }
        try openTail()
        if let tail, end.segment == position.segment, end.offset > position.offset {
            do {
                try tail.truncate(to: position.offset)
                try tail.dataSync()
            } catch {
                throw .system(error)
            }
            removed += end.offset - position.offset
            end.offset = position.offset
        }
        if removedNames {
            do { try FileSystem.syncDirectory(directory) } catch { throw .system(error) }
        }
        return removed
    }

    private func closeReader(_ segment: UInt64) {
        if segment == segments.last {
            tail?.close()
            tail = nil
        }
        if let index = readers.firstIndex(where: { $0.segment == segment }) {
            readers.remove(at: index).fd.close()
        }
    }

    /// Reads records in order from `position` (see `LogCursor`).
    func cursor(from position: LogPosition) -> LogCursor { LogCursor(log: self, position: position) }
}
