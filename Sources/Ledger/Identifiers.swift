import Crypto

/// Thirty-two bytes kept inline as four big-endian words: no heap storage, cheap to
/// hash, and `<` is lexicographic byte order (the order the encoding requires of sets).
public struct Bytes32: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let count = 32
    /// All zero bytes.
    public static let zero = Bytes32(0, 0, 0, 0)

    private let w0, w1, w2, w3: UInt64

    private init(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// Exactly 32 bytes, or nil.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.count else { return nil }
        self = bytes.withUnsafeBytes { Bytes32(loading: $0, at: 0) }
    }

    /// Exactly 64 hex digits (either case), or nil.
    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes)
    }

    /// Loads 32 bytes at `offset`; the caller has checked the bounds.
    init(loading raw: UnsafeRawBufferPointer, at offset: Int) {
        func word(_ index: Int) -> UInt64 {
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + index * 8, as: UInt64.self))
        }
        self.init(word(0), word(1), word(2), word(3))
    }

    /// The 32 bytes in order.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.count)
        append(to: &out)
        return out
    }

    /// Appends the 32 bytes to `buffer`.
    public func append(to buffer: inout [UInt8]) {
        withUnsafeBytes(of: (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)) {
            buffer.append(contentsOf: $0)
        }
    }

    public static func < (a: Bytes32, b: Bytes32) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }

    /// 64 lower-case hex digits.
    public var description: String { Hex.encode(bytes) }
}

/// An account: an Ed25519 public key. Printed and parsed as 64 lower-case hex digits
/// (no prefix, no checksum: a mistyped address fails to parse or names an empty account,
/// and wallets are expected to show it whole). Not checked to be a curve point: funds
/// sent to a non-key are unspendable, never a consensus problem.
public struct Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: Bytes32

    public init(_ raw: Bytes32) { self.raw = raw }

    /// The account of `key`.
    public init(_ key: PublicKey) { raw = Bytes32(key.bytes)! }

    public init?(hex: some StringProtocol) {
        guard let raw = Bytes32(hex: hex) else { return nil }
        self.raw = raw
    }

    /// The Ed25519 key that signs for this account.
    public var publicKey: PublicKey { PublicKey(bytes: raw.bytes)! }

    public static func < (a: Address, b: Address) -> Bool { a.raw < b.raw }
    public var description: String { raw.description }
}

/// A chain's identity: the tagged BLAKE2b-256 hash of its genesis (see `Genesis.chainID`).
public struct ChainID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: Bytes32
    public init(_ raw: Bytes32) { self.raw = raw }
    public static func < (a: ChainID, b: ChainID) -> Bool { a.raw < b.raw }
    public var description: String { raw.description }
}

/// A transaction's id: the tagged BLAKE2b-256 hash of its whole signed encoding
/// (body and signature), so two different byte strings never share an id.
public struct TransactionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: Bytes32
    public init(_ raw: Bytes32) { self.raw = raw }
    public static func < (a: TransactionID, b: TransactionID) -> Bool { a.raw < b.raw }
    public var description: String { raw.description }
}

/// A block's id: the signing digest of its header (what the producer and voters sign).
public struct BlockID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: Bytes32
    public init(_ raw: Bytes32) { self.raw = raw }
    /// The parent of the first block after genesis.
    public static let none = BlockID(.zero)
    public static func < (a: BlockID, b: BlockID) -> Bool { a.raw < b.raw }
    public var description: String { raw.description }
}

/// A prepaid session is named by the id of the transaction that opened it.
public typealias SessionID = TransactionID

/// An asset record is named by the id of the transaction that registered it.
public typealias AssetID = TransactionID

/// An Ed25519 signature (64 bytes).
public struct Signature: Hashable, Sendable, CustomStringConvertible {
    public static let count = 64
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.count else { return nil }
        self.bytes = bytes
    }

    /// Signs a 32-byte digest.
    public init(signing digest: Bytes32, with key: SigningKey) {
        bytes = key.sign(digest.bytes)
    }

    /// Whether this is `key`'s signature of `digest`.
    public func isValid(for digest: Bytes32, by key: Address) -> Bool {
        key.publicKey.verify(bytes, for: digest.bytes)
    }

    public var description: String { Hex.encode(bytes) }
}

/// What a signature is about; part of every signing digest, so a signature made for
/// one kind of message can never be replayed as another.
public enum MessageType: UInt8, Sendable, CaseIterable {
    /// A transaction body.
    case transaction = 1
    /// A block header (the producer's signature; the digest is the block id).
    case blockHeader = 2
    /// A producer's vote for a block (`QuorumCertificate.voteDigest`).
    case blockVote = 3
    /// A subscriber's receipt for metered bytes (`SessionReceipt`).
    case sessionReceipt = 4
}

/// The chain's hashes. All are BLAKE2b-256 (unkeyed) over a domain tag and bytes:
///
/// - signing digest = H("qlink/sign/v1" ‖ chain id (32) ‖ message type (1) ‖ body encoding)
/// - transaction id = H("qlink/txid/v1" ‖ whole signed transaction encoding)
/// - chain id       = H("qlink/genesis/v1" ‖ genesis encoding)
/// - merkle leaf    = H(0x00 ‖ transaction id), node = H(0x01 ‖ left ‖ right)
///
/// Tags are ASCII, none a prefix of another, and none starts with 0x00 or 0x01.
public enum Digest {
    static let signingTag = Array("qlink/sign/v1".utf8)
    static let transactionIDTag = Array("qlink/txid/v1".utf8)
    static let genesisTag = Array("qlink/genesis/v1".utf8)

    /// BLAKE2b-256 of `message`.
    public static func blake2b256(_ message: [UInt8]) -> Bytes32 {
        Bytes32(Hash.blake2b(message, length: 32))!
    }

    /// The 32 bytes an Ed25519 signature covers.
    public static func signing(chain: ChainID, type: MessageType, body: [UInt8]) -> Bytes32 {
        signing(chain: chain, type: type, body: body[...])
    }

    /// The 32 bytes an Ed25519 signature covers, for a body given as a slice.
    public static func signing(chain: ChainID, type: MessageType, body: ArraySlice<UInt8>) -> Bytes32 {
        var message = signingTag
        message.reserveCapacity(signingTag.count + Bytes32.count + 1 + body.count)
        chain.raw.append(to: &message)
        message.append(type.rawValue)
        message.append(contentsOf: body)
        return blake2b256(message)
    }

    /// The id of a signed transaction's exact bytes.
    public static func transactionID(signedEncoding: [UInt8]) -> TransactionID {
        TransactionID(blake2b256(transactionIDTag + signedEncoding))
    }

    /// A chain's id from its genesis encoding.
    public static func chainID(genesisEncoding: [UInt8]) -> ChainID {
        ChainID(blake2b256(genesisTag + genesisEncoding))
    }

    /// The merkle root of transaction ids, in block order (RFC 6962's shape): leaves
    /// and inner nodes are hashed under different prefixes, an odd node at the end of a
    /// level is carried up unchanged (never duplicated), and no transactions give zero.
    public static func merkleRoot(_ ids: [TransactionID]) -> Bytes32 {
        guard !ids.isEmpty else { return .zero }
        var level = ids.map { id -> Bytes32 in
            var message: [UInt8] = [0]
            id.raw.append(to: &message)
            return blake2b256(message)
        }
        while level.count > 1 {
            var next: [Bytes32] = []
            next.reserveCapacity((level.count + 1) / 2)
            var index = 0
            while index + 1 < level.count {
                var message: [UInt8] = [1]
                message.reserveCapacity(1 + 2 * Bytes32.count)
                level[index].append(to: &message)
                level[index + 1].append(to: &message)
                next.append(blake2b256(message))
                index += 2
            }
            if index < level.count { next.append(level[index]) }
            level = next
        }
        return level[0]
    }
}
