import Crypto
import FoundationEssentials

/// Why a journal line is not a valid record.
public enum JournalLineError: Error, Sendable, Equatable, CustomStringConvertible {
    case notJSON(String)
    case notCanonical
    case hashMismatch

    public var description: String {
        switch self {
        case .notJSON(let detail): "not a journal record: \(detail)"
        case .notCanonical: "edited: the line is not as the journal writes it"
        case .hashMismatch: "edited: its hash does not match its content"
        }
    }
}

extension JournalRecord {
    /// Parses one line (without its newline) and checks that its hash covers exactly what it says.
    public init(line: ArraySlice<UInt8>) throws(JournalLineError) {
        let fields: Fields
        do { fields = try JSONDecoder().decode(Fields.self, from: Data(line)) } catch {
            throw .notJSON(Self.describe(error))
        }
        guard let kind = Kind(rawValue: fields.type) else { throw .notJSON("unknown type '\(fields.type)'") }
        self.init(seq: fields.seq, kind: kind, wall: fields.wall, mono: fields.mono, clockTrusted: fields.clock == "trusted", prev: fields.prev)
        subscriber = fields.sub
        session = fields.session
        up = fields.up
        down = fields.down
        upTotal = fields.up_total
        downTotal = fields.down_total
        upCounter = fields.up_ctr
        downCounter = fields.down_ctr
        reason = fields.reason
        station = fields.station
        boot = fields.boot
        openSessions = fields.open
        signature = fields.sig
        guard let (prefix, hash) = Self.hashedPrefix(of: line) else { throw .notCanonical }
        guard Hex.encode(Hash.blake2b(Array(prefix), length: 32)) == hash else { throw .hashMismatch }
        self.hash = hash
        guard fields.hash == hash, reconstructed() == Array(line) else { throw .notCanonical }
    }

    /// The exact line this record is written as, given its hash and signature.
    func reconstructed() -> [UInt8] {
        var line = body() + Self.hashMarker + Array(hash.utf8) + [UInt8(ascii: "\"")]
        if let signature { line += Array(",\"sig\":\"\(signature)\"".utf8) }
        line.append(UInt8(ascii: "}"))
        return line
    }

    /// Whether a checkpoint's signature is `key`'s.
    public func signatureIsValid(for key: PublicKey) -> Bool {
        guard kind == .checkpoint, let signature, let bytes = Hex.decode(signature) else { return false }
        return key.verify(bytes, for: Self.signingMessage(hash))
    }

    private struct Fields: Decodable {
        let seq: UInt64
        let type: String
        let wall: Int64
        let mono: UInt64
        let clock: String
        let sub: String?
        let session: UInt64?
        let up: UInt64?
        let down: UInt64?
        let up_total: UInt64?
        let down_total: UInt64?
        let up_ctr: UInt64?
        let down_ctr: UInt64?
        let reason: String?
        let station: String?
        let boot: String?
        let open: [OpenSession]?
        let prev: String
        let hash: String
        let sig: String?
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "bad field '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: "malformed JSON"
        }
    }
}
