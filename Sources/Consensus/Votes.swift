import Crypto
import Ledger

/// A producer's signed vote for one block, as it travels between nodes: the block id
/// and height, the producer's account, and its signing key's Ed25519 signature of
/// `QuorumCertificate.voteDigest(chain:block:height:)`.
///
/// Encoding: block id (32) ‖ height (u64) ‖ producer (32) ‖ signature (64), 136 bytes.
public struct BlockVote: Hashable, Sendable, CanonicalCodable, CustomStringConvertible {
    /// Bytes of the encoding.
    public static let encodedCount = 136

    /// The block voted for and its height.
    public let block: BlockID
    public let height: UInt64
    /// The voting producer's account.
    public let producer: Address
    /// By the producer's registered signing key.
    public let signature: Signature

    /// A vote as received (unchecked: `isValid` checks it).
    public init(block: BlockID, height: UInt64, producer: Address, signature: Signature) {
        self.block = block
        self.height = height
        self.producer = producer
        self.signature = signature
    }

    /// Signs a vote for `block` at `height` with the producer's signing key.
    public static func sign(block: BlockID, height: UInt64, producer: Address, chain: ChainID,
                            with key: SigningKey) -> BlockVote {
        let digest = QuorumCertificate.voteDigest(chain: chain, block: block, height: height)
        return BlockVote(block: block, height: height, producer: producer, signature: Signature(signing: digest, with: key))
    }

    /// Whether the signature is `signingKey`'s over this vote on `chain`.
    public func isValid(chain: ChainID, signingKey: Address) -> Bool {
        signature.isValid(for: QuorumCertificate.voteDigest(chain: chain, block: block, height: height), by: signingKey)
    }

    /// The vote as a quorum certificate carries it.
    public var producerVote: ProducerVote { ProducerVote(producer: producer, signature: signature) }

    /// Decodes a whole vote (no trailing bytes), naming fields under `vote`.
    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        self = try BlockVote(canonical: bytes, root: "vote")
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.raw(block.raw)
        writer.u64(height)
        writer.address(producer)
        writer.signature(signature)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        block = BlockID(try reader.bytes32("block"))
        height = try reader.u64("height")
        producer = try reader.address("producer")
        signature = try reader.signature("signature")
    }

    /// `vote <height> <block> by <producer>`.
    public var description: String { "vote \(height) \(block) by \(producer)" }
}

/// Why a quorum certificate does not certify its block.
public enum CertificateRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// Its height is not the certified block's.
    case heightMismatch(certificate: UInt64, block: UInt64)
    /// Fewer distinct votes than ⌊2n/3⌋ + 1 of the round's n producers.
    case tooFewVotes(count: Int, quorum: Int)
    /// A producer appears twice, or votes are not in ascending order.
    case duplicateVoter(Address)
    /// A voter is not one of the producers of the certified block's round.
    case notAProducer(Address)
    /// A vote is not the producer's signing key's signature of the vote digest.
    case badSignature(Address)

    public var description: String {
        switch self {
        case let .heightMismatch(certificate, block): "height \(certificate) is not the block's \(block)"
        case let .tooFewVotes(count, quorum): "\(count) votes < quorum \(quorum)"
        case let .duplicateVoter(producer): "votes: \(producer) not strictly ascending"
        case let .notAProducer(producer): "votes: \(producer) is not a producer of the round"
        case let .badSignature(producer): "votes: signature of \(producer) is invalid"
        }
    }
}

extension QuorumCertificate {
    /// Checks, cheapest first, that this certifies a block of `height` produced in the
    /// round `schedule`: the height matches, at least `schedule.quorum` votes from
    /// distinct producers (strictly ascending) of that round, each signature valid over
    /// `voteDigest` on `chain`. At most `votes.count` (≤ 21) signature checks.
    public func verify(chain: ChainID, blockHeight: UInt64, schedule: Schedule) throws(CertificateRejection) {
        guard height == blockHeight else { throw .heightMismatch(certificate: height, block: blockHeight) }
        guard votes.count >= schedule.quorum else { throw .tooFewVotes(count: votes.count, quorum: schedule.quorum) }
        var keys: [Address] = []
        keys.reserveCapacity(votes.count)
        for (index, vote) in votes.enumerated() {
            if index > 0, !(votes[index - 1].producer < vote.producer) { throw .duplicateVoter(vote.producer) }
            guard let member = schedule.member(vote.producer) else { throw .notAProducer(vote.producer) }
            keys.append(member.signingKey)
        }
        let digest = Self.voteDigest(chain: chain, block: block, height: height)
        for (vote, key) in zip(votes, keys) where !vote.signature.isValid(for: digest, by: key) {
            throw .badSignature(vote.producer)
        }
    }
}

/// A block header with its producer's signature: enough to prove who proposed what.
public struct SignedHeader: Hashable, Sendable {
    /// The signed header and the producer's signature of its id.
    public let header: BlockHeader
    public let signature: Signature

    /// A header with its signature (unchecked).
    public init(header: BlockHeader, signature: Signature) {
        self.header = header
        self.signature = signature
    }

    /// The header and signature of `block`.
    public init(_ block: Block) { self.init(header: block.header, signature: block.signature) }

    /// The block id.
    public var id: BlockID { header.id }
}

/// Proof that a producer broke the protocol: two messages it signed that an honest
/// producer never signs. Both are kept whole so anyone can check them again.
public enum Evidence: Hashable, Sendable, CustomStringConvertible {
    /// Two valid votes by `producer` for different blocks at the same height.
    case doubleVote(first: BlockVote, second: BlockVote)
    /// Two valid blocks by the same producer for the same slot.
    case doubleProposal(first: SignedHeader, second: SignedHeader)

    /// The producer (account) at fault.
    public var producer: Address {
        switch self {
        case let .doubleVote(first, _): first.producer
        case let .doubleProposal(first, _): first.header.producer
        }
    }

    public var description: String {
        switch self {
        case let .doubleVote(first, second):
            "double vote by \(first.producer) at height \(first.height): \(first.block) and \(second.block)"
        case let .doubleProposal(first, second):
            "double proposal by \(first.header.producer) in slot \(first.header.slot): \(first.id) and \(second.id)"
        }
    }
}
