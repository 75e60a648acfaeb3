/// Reads the block log's records in order from a position, a mebibyte at a time,
/// checking every record's checksum and the log's order: block heights consecutive
/// (from `previousBlock` + 1), each segment starting with the block its name says,
/// marks never ahead of the last block. Memory stays O(largest record), whatever the
/// log's length.
struct LogCursor {
    enum Step {
        case record(LogRecord, BlockLocation)
        /// Past the last record.
        case end
        /// The bytes at the position are not a valid next record.
        case damaged(LogPosition, DamageReason)
    }

    static let chunkBytes = 1 << 20

    let log: BlockLog
    private(set) var position: LogPosition
    /// The height of the last block read (or the one before the start position).
    var previousBlock: UInt64?
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0
    private var segmentSize: Int64?

    init(log: BlockLog, position: LogPosition, previousBlock: UInt64? = nil) {
        self.log = log
        self.position = position
        self.previousBlock = previousBlock
    }

    /// The next record, the end, or where the log stops being valid.
    mutating func next() throws(ChainStoreError) -> Step {
        while true {
            let size: Int64
            if let segmentSize {
                size = segmentSize
            } else if log.segments.contains(position.segment) {
                size = try log.size(of: position.segment)
                segmentSize = size
            } else if log.segments.isEmpty && position.offset == 0 {
                return .end
            } else {
                return .damaged(position, .outOfOrder("no segment \(BlockLog.segmentName(position.segment))"))
            }
            if position.offset > size { return .damaged(position, .truncated) }
            if position.offset == size {
                guard let next = log.segment(after: position.segment) else { return .end }
                position = LogPosition(segment: next, offset: 0)
                buffer = []
                segmentSize = nil
                continue
            }
            let available = Int(min(Int64(Self.chunkBytes), size - position.offset))
            try ensure(min(LogRecord.headerBytes, Int(size - position.offset)), chunk: available)
            let header: LogRecord.Header
            switch LogRecord.header(buffer, at: index) {
            case let .success(parsed): header = parsed
            case let .failure(reason): return .damaged(position, reason)
            }
            let length = LogRecord.headerBytes + header.payloadLength
            guard Int64(length) <= size - position.offset else { return .damaged(position, .truncated) }
            try ensure(length, chunk: max(length, available))
            let record: LogRecord
            switch LogRecord.decode(buffer, at: index) {
            case let .success(decoded): record = decoded
            case let .failure(reason): return .damaged(position, reason)
            }
            if let problem = orderProblem(record) { return .damaged(position, .outOfOrder(problem)) }
            if record.kind == .block { previousBlock = record.height }
            let location = BlockLocation(segment: position.segment, offset: position.offset, length: length)
            position.offset += Int64(length)
            return .record(record, location)
        }
    }

    private var index: Int { Int(position.offset - bufferStart) }

    private func orderProblem(_ record: LogRecord) -> String? {
        switch record.kind {
        case .block:
            if position.offset == 0 && record.height != position.segment {
                return "segment \(BlockLog.segmentName(position.segment)) starts with block \(record.height)"
            }
            if let previous = previousBlock, record.height != previous + 1 {
                return "block \(record.height) follows block \(previous)"
            }
        case .final:
            if position.offset == 0 { return "segment \(BlockLog.segmentName(position.segment)) starts with a mark" }
            if record.height > (previousBlock ?? 0) {
                return "mark final \(record.height) is ahead of block \(previousBlock ?? 0)"
            }
        }
        return nil
    }

    /// Makes `count` bytes from the position available in `buffer`, reading `chunk`.
    private mutating func ensure(_ count: Int, chunk: Int) throws(ChainStoreError) {
        if position.offset >= bufferStart, position.offset + Int64(count) <= bufferStart + Int64(buffer.count) { return }
        do {
            buffer = try log.reader(position.segment).read(upTo: max(count, chunk), at: position.offset)
        } catch {
            throw .system(error)
        }
        bufferStart = position.offset
    }
}
