import Crypto
import FoundationEssentials

/// One line of the metering journal.
///
/// Every record carries its sequence number, the hash of the record before it and its own
/// hash, so an edit, a loss or a reorder anywhere is detectable. The hash is BLAKE2b-256 of
/// the line's bytes up to (not including) `,"hash":"`, which covers `prev`; the fields are
/// written in a fixed order, so the same record always has the same bytes.
public struct JournalRecord: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The first record of each segment: the station and the sessions open when it began.
        case header
        /// A session began.
        case open
        /// Bytes that moved in a session since its previous record.
        case usage
        /// A session ended.
        case close
        /// Something a person must know about the journal itself (a recovery, lost bytes, a stop).
        case note
        /// Closes a flush: signed by the station's key over this record's hash.
        case checkpoint
    }

    public var seq: UInt64
    public var kind: Kind
    /// Wall-clock milliseconds since the Unix epoch (may step).
    public var wall: Int64
    /// CLOCK_MONOTONIC nanoseconds (never steps; restarts at boot).
    public var mono: UInt64
    /// False until the wall clock is known good (NTP synchronised or a GPS fix).
    public var clockTrusted: Bool
    public var subscriber: String?
    public var session: UInt64?
    /// `usage`: the delta since the session's previous record.
    public var up: UInt64?
    public var down: UInt64?
    /// `usage`/`close`: the session's totals so far.
    public var upTotal: UInt64?
    public var downTotal: UInt64?
    /// `usage`/`open`: the source's cumulative counters at this reading (the durable baseline).
    public var upCounter: UInt64?
    public var downCounter: UInt64?
    /// `close`: why it ended; `note`: what happened.
    public var reason: String?
    /// `header`/`checkpoint`: the station's public key (hex).
    public var station: String?
    /// `header`: the boot this segment began in (`/proc/sys/kernel/random/boot_id`).
    public var boot: String?
    /// `header`: the sessions open when the segment began.
    public var openSessions: [OpenSession]?
    public var prev: String
    public var hash: String = ""
    /// `checkpoint`: Ed25519 signature (hex) of `signingMessage(hash)`.
    public var signature: String?

    /// A session as a segment header carries it, enough to go on metering it after a restart.
    public struct OpenSession: Sendable, Equatable, Codable {
        public var subscriber: String
        public var session: UInt64
        public var upTotal: UInt64
        public var downTotal: UInt64
        public var upCounter: UInt64
        public var downCounter: UInt64
        /// Monotonic nanoseconds of the reading the counters come from.
        public var readAt: UInt64

        enum CodingKeys: String, CodingKey {
            case subscriber = "sub", session
            case upTotal = "up_total", downTotal = "down_total", upCounter = "up_ctr", downCounter = "down_ctr", readAt = "read_mono"
        }
    }

    public init(seq: UInt64, kind: Kind, wall: Int64, mono: UInt64, clockTrusted: Bool, prev: String) {
        self.seq = seq
        self.kind = kind
        self.wall = wall
        self.mono = mono
        self.clockTrusted = clockTrusted
        self.prev = prev
    }

    /// The hash of the very first record's predecessor.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// What a checkpoint's signature signs: a domain tag and the record's hash.
    public static func signingMessage(_ hash: String) -> [UInt8] {
        Array("qlink/metering/checkpoint/v1".utf8) + (Hex.decode(hash) ?? [])
    }
}

extension JournalRecord {
    static let hashMarker = Array(",\"hash\":\"".utf8)

    /// The line as written (without the newline), with `hash` (and `signature`) filled in.
    /// `sign` is called with the hash for checkpoints.
    public mutating func seal(sign: (String) -> String?) -> [UInt8] {
        var line = body()
        hash = Hex.encode(Hash.blake2b(line, length: 32))
        line += Self.hashMarker + Array(hash.utf8) + [UInt8(ascii: "\"")]
        if kind == .checkpoint {
            signature = sign(hash)
            if let signature { line += Array(",\"sig\":\"\(signature)\"".utf8) }
        }
        line.append(UInt8(ascii: "}"))
        return line
    }

    /// The bytes the hash covers: every field but `hash` and `sig`, in their fixed order.
    func body() -> [UInt8] {
        var w = JSONLineWriter()
        w.field("seq", seq)
        w.field("type", kind.rawValue)
        w.field("wall", wall)
        w.field("mono", mono)
        w.field("clock", clockTrusted ? "trusted" : "untrusted")
        if let subscriber { w.field("sub", subscriber) }
        if let session { w.field("session", session) }
        if let up { w.field("up", up) }
        if let down { w.field("down", down) }
        if let upTotal { w.field("up_total", upTotal) }
        if let downTotal { w.field("down_total", downTotal) }
        if let upCounter { w.field("up_ctr", upCounter) }
        if let downCounter { w.field("down_ctr", downCounter) }
        if let reason { w.field("reason", reason) }
        if let station { w.field("station", station) }
        if let boot { w.field("boot", boot) }
        if let openSessions { w.raw("open", JSONLineWriter.encode(openSessions)) }
        w.field("prev", prev)
        return w.bytes
    }

    /// Checks a line's own hash and returns the bytes it covers, or nil if it does not match.
    static func hashedPrefix(of line: ArraySlice<UInt8>) -> (prefix: ArraySlice<UInt8>, hash: String)? {
        guard let marker = line.lastRange(of: hashMarker) else { return nil }
        let hashStart = marker.upperBound
        guard line.count >= 64, hashStart + 64 <= line.endIndex else { return nil }
        let hash = String(decoding: line[hashStart..<(hashStart + 64)], as: UTF8.self)
        return (line[..<marker.lowerBound], hash)
    }
}

/// Writes one JSON object with fields in the order given.
struct JSONLineWriter {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]

    mutating func field(_ key: String, _ value: some BinaryInteger) {
        raw(key, Array(String(value).utf8))
    }

    mutating func field(_ key: String, _ value: String) {
        raw(key, Self.quoted(value))
    }

    mutating func raw(_ key: String, _ json: [UInt8]) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        bytes += Self.quoted(key)
        bytes.append(UInt8(ascii: ":"))
        bytes += json
    }

    static func quoted(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case 0..<0x20: out += Array(String(format: byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array("null".utf8)
    }
}

private extension String {
    init(format byte: UInt8) {
        let hex = String(byte, radix: 16)
        self = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}

extension ArraySlice where Element == UInt8 {
    func lastRange(of pattern: [UInt8]) -> Range<Index>? {
        guard count >= pattern.count else { return nil }
        var start = endIndex - pattern.count
        while start >= startIndex {
            if self[start..<(start + pattern.count)].elementsEqual(pattern) { return start..<(start + pattern.count) }
            start -= 1
        }
        return nil
    }
}
