import Ledger

/// A position in the block log: a segment (named by the height of its first block) and
/// a byte offset in it.
public struct LogPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The segment's first block height (its name).
    public var segment: UInt64
    /// Bytes from the segment's start.
    public var offset: Int64

    /// The position `offset` bytes into `segment`.
    public init(segment: UInt64, offset: Int64) {
        self.segment = segment
        self.offset = offset
    }

    /// Log order.
    public static func < (a: LogPosition, b: LogPosition) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }

    /// `<segment file>:<offset>`.
    public var description: String { "\(BlockLog.segmentName(segment)):\(offset)" }
}

/// Where one record lies: its position and its whole length (header and payload).
public struct BlockLocation: Hashable, Sendable {
    /// The segment's first block height (its name).
    public var segment: UInt64
    /// Bytes from the segment's start to the record.
    public var offset: Int64
    /// The record's bytes, header included.
    public var length: Int

    /// The record of `length` bytes at `offset` in `segment`.
    public init(segment: UInt64, offset: Int64, length: Int) {
        self.segment = segment
        self.offset = offset
        self.length = length
    }

    /// Where the record starts.
    public var position: LogPosition { LogPosition(segment: segment, offset: offset) }
    /// The position right after the record.
    public var end: LogPosition { LogPosition(segment: segment, offset: offset + Int64(length)) }
}

/// One record of the block log.
///
/// On disk: a 28-byte header, then the payload.
///
/// | bytes | field |
/// |---|---|
/// | 0-3 | magic `QLBK` |
/// | 4 | kind: 1 block (payload: the block's canonical encoding), 2 finality mark (no payload) |
/// | 5-7 | zero |
/// | 8-11 | payload length, u32 little-endian (≤ `Limits.maxBlockBytes`) |
/// | 12-19 | height, u64 little-endian: the block's, or the height a mark makes final |
/// | 20-27 | checksum: the first 8 bytes of BLAKE2b-256(`"qlink/blocklog/v1"` ‖ bytes 0-19 ‖ payload) |
///
/// BLAKE2b (through Ledger's `Digest`, i.e. libsodium) rather than a CRC: no hand-written
/// code, and 64 bits make an accepted torn or stale record practically impossible.
struct LogRecord: Sendable {
    enum Kind: UInt8, Sendable {
        case block = 1
        case final = 2
    }

    static let headerBytes = 28
    static let magic: [UInt8] = Array("QLBK".utf8)
    static let checksumTag: [UInt8] = Array("qlink/blocklog/v1".utf8)

    var kind: Kind
    var height: UInt64
    var payload: [UInt8]

    static func block(_ block: Block) -> LogRecord {
        LogRecord(kind: .block, height: block.header.height, payload: block.encoded)
    }

    static func final(_ height: UInt64) -> LogRecord { LogRecord(kind: .final, height: height, payload: []) }

    var encodedLength: Int { Self.headerBytes + payload.count }

    /// Appends the record's bytes to `buffer`.
    func encode(into buffer: inout [UInt8]) {
        var header = Self.magic + [kind.rawValue, 0, 0, 0]
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { header.append(contentsOf: $0) }
        withUnsafeBytes(of: height.littleEndian) { header.append(contentsOf: $0) }
        let sum = Self.checksum(header: header[...], payload: payload[...])
        buffer.append(contentsOf: header)
        buffer.append(contentsOf: sum)
        buffer.append(contentsOf: payload)
    }

    static func checksum(header: ArraySlice<UInt8>, payload: ArraySlice<UInt8>) -> [UInt8] {
        var message = checksumTag
        message.reserveCapacity(checksumTag.count + header.count + payload.count)
        message.append(contentsOf: header)
        message.append(contentsOf: payload)
        return Array(Digest.blake2b256(message).bytes.prefix(8))
    }

    /// What a header says, before the payload is read.
    struct Header {
        var kind: Kind
        var payloadLength: Int
        var height: UInt64
    }

    /// Parses the 28 bytes at `bytes[at...]`; nil with a reason if they are not a header.
    static func header(_ bytes: [UInt8], at offset: Int) -> Result<Header, DamageReason> {
        guard bytes.count - offset >= headerBytes else { return .failure(.truncated) }
        guard bytes[offset..<offset + 4].elementsEqual(magic) else { return .failure(.badMagic) }
        guard let kind = Kind(rawValue: bytes[offset + 4]), bytes[offset + 5] == 0, bytes[offset + 6] == 0, bytes[offset + 7] == 0
        else { return .failure(.badHeader) }
        var length: UInt32 = 0
        var height: UInt64 = 0
        bytes.withUnsafeBytes { raw in
            length = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self))
            height = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt64.self))
        }
        guard Int(length) <= Limits.maxBlockBytes, kind == .block || length == 0 else { return .failure(.badHeader) }
        return .success(Header(kind: kind, payloadLength: Int(length), height: height))
    }

    /// Decodes the whole record at `bytes[at...]` (header, checksum, payload).
    static func decode(_ bytes: [UInt8], at offset: Int) -> Result<LogRecord, DamageReason> {
        let header: Header
        switch Self.header(bytes, at: offset) {
        case let .success(parsed): header = parsed
        case let .failure(reason): return .failure(reason)
        }
        let end = offset + headerBytes + header.payloadLength
        guard bytes.count >= end else { return .failure(.truncated) }
        let payload = bytes[(offset + headerBytes)..<end]
        guard bytes[(offset + 20)..<(offset + 28)].elementsEqual(checksum(header: bytes[offset..<offset + 20], payload: payload))
        else { return .failure(.badChecksum) }
        return .success(LogRecord(kind: header.kind, height: header.height, payload: Array(payload)))
    }
}

/// Why the bytes at a position are not a whole, valid record.
enum DamageReason: Error, Sendable, CustomStringConvertible {
    case truncated, badMagic, badHeader, badChecksum
    /// The record breaks the log's order (`detail` says how).
    case outOfOrder(String)

    var description: String {
        switch self {
        case .truncated: "record cut short"
        case .badMagic: "no record magic"
        case .badHeader: "invalid record header"
        case .badChecksum: "checksum mismatch"
        case let .outOfOrder(detail): detail
        }
    }
}
