import Crypto

/// One producer's vote inside a quorum certificate.
public struct ProducerVote: Hashable, Sendable {
    /// The producer's account; the signature is by its registered signing key.
    public var producer: Address
    public var signature: Signature

    public init(producer: Address, signature: Signature) {
        self.producer = producer
        self.signature = signature
    }
}

/// Votes of producers for one block, aggregated. The data and its encoding only: whether
/// the votes are enough (≥ 2/3 + 1 of the round's producers) is Consensus's rule.
public struct QuorumCertificate: Hashable, Sendable, CanonicalCodable {
    public var block: BlockID
    public var height: UInt64
    /// Strictly ascending by producer, 1...`Limits.maxProducers` of them.
    public var votes: [ProducerVote]

    public init(block: BlockID, height: UInt64, votes: [ProducerVote]) {
        self.block = block
        self.height = height
        self.votes = votes
    }

    /// What every vote in the certificate signs: the block id and height under
    /// message type `blockVote`.
    public static func voteDigest(chain: ChainID, block: BlockID, height: UInt64) -> Bytes32 {
        var writer = BinaryWriter(capacity: 40)
        writer.raw(block.raw)
        writer.u64(height)
        return Digest.signing(chain: chain, type: .blockVote, body: writer.bytes)
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.raw(block.raw)
        writer.u64(height)
        writer.list(votes) {
            $0.address($1.producer)
            $0.signature($1.signature)
        }
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        block = BlockID(try reader.bytes32("block"))
        height = try reader.u64("height")
        votes = try reader.list("votes", 1...Limits.maxProducers, elementBytes: 96) { reader throws(DecodeError) in
            ProducerVote(producer: try reader.address("producer"), signature: try reader.signature("signature"))
        }
        try requireAscending(votes.map(\.producer), "votes")
    }
}

/// The signed part of a block.
public struct BlockHeader: Hashable, Sendable, CanonicalCodable {
    public var chain: ChainID
    public var height: UInt64
    /// The parent block's id (`BlockID.none` for height 1).
    public var parent: BlockID
    /// Unix time, milliseconds.
    public var timestampMs: UInt64
    public var slot: UInt64
    /// The producing account; the block is signed by its registered signing key.
    public var producer: Address
    /// `Digest.merkleRoot` of the transaction ids.
    public var transactionsRoot: Bytes32
    /// Reserved for a commitment to the state after the block; zero until ChainStore
    /// defines it. Encoded and signed, not yet checked.
    public var stateRoot: Bytes32
    /// The highest quorum certificate the producer knows (Consensus's).
    public var justify: QuorumCertificate?

    public init(chain: ChainID, height: UInt64, parent: BlockID, timestampMs: UInt64, slot: UInt64, producer: Address,
                transactionsRoot: Bytes32 = .zero, stateRoot: Bytes32 = .zero, justify: QuorumCertificate? = nil) {
        self.chain = chain
        self.height = height
        self.parent = parent
        self.timestampMs = timestampMs
        self.slot = slot
        self.producer = producer
        self.transactionsRoot = transactionsRoot
        self.stateRoot = stateRoot
        self.justify = justify
    }

    /// The block id: the signing digest of this header under message type `blockHeader`.
    public var id: BlockID { BlockID(Digest.signing(chain: chain, type: .blockHeader, body: canonicalEncoding)) }

    public func encode(to writer: inout BinaryWriter) {
        writer.raw(chain.raw)
        writer.u64(height)
        writer.raw(parent.raw)
        writer.u64(timestampMs)
        writer.u64(slot)
        writer.address(producer)
        writer.raw(transactionsRoot)
        writer.raw(stateRoot)
        writer.optional(justify) { $1.encode(to: &$0) }
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        chain = ChainID(try reader.bytes32("chain"))
        height = try reader.u64("height")
        parent = BlockID(try reader.bytes32("parent"))
        timestampMs = try reader.u64("timestampMs")
        slot = try reader.u64("slot")
        producer = try reader.address("producer")
        transactionsRoot = try reader.bytes32("transactionsRoot")
        stateRoot = try reader.bytes32("stateRoot")
        justify = try reader.optional("justify") { reader throws(DecodeError) in try QuorumCertificate(from: &reader) }
    }
}

/// A block: header, the producer's signature of its id, and transactions, each
/// length-prefixed (u16) inside a u32-counted list. Like `SignedTransaction`, values
/// exist only through the decoder (`init(decoding:)`, `assemble`) and keep their bytes.
public struct Block: Hashable, Sendable, CustomStringConvertible {
    /// The smallest possible signed transaction (a vote for nobody).
    static let minimumTransactionBytes = 155

    public let header: BlockHeader
    public let signature: Signature
    public let transactions: [SignedTransaction]
    public let encoded: [UInt8]
    public let id: BlockID

    /// Decodes a block; rejects more than `Limits.maxBlockBytes` before reading.
    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        guard bytes.count <= Limits.maxBlockBytes else {
            throw DecodeError(field: "block", reason: "\(bytes.count) bytes > \(Limits.maxBlockBytes)")
        }
        var reader = BinaryReader(bytes)
        let parts = try within("block") { () throws(DecodeError) in
            let header = try within("header") { () throws(DecodeError) in try BlockHeader(from: &reader) }
            let signature = try reader.signature("signature")
            let transactions = try reader.list("transactions", 0...Int(UInt32.max),
                                               elementBytes: 2 + Self.minimumTransactionBytes,
                                               prefix: .u32) { reader throws(DecodeError) in
                try SignedTransaction(unprefixed: try reader.variable("", Self.minimumTransactionBytes...Limits.maxTransactionBytes))
            }
            try reader.finish()
            return (header, signature, transactions)
        }
        (header, signature, transactions) = parts
        encoded = bytes
        id = header.id
    }

    /// Builds and signs a block: sets `header.transactionsRoot` from `transactions` and
    /// signs the id with `signer` (the producer's registered signing key).
    public static func assemble(header: BlockHeader, transactions: [SignedTransaction],
                                signer: SigningKey) throws(DecodeError) -> Block {
        var header = header
        header.transactionsRoot = Digest.merkleRoot(transactions.map(\.id))
        var writer = BinaryWriter(capacity: 512 + transactions.reduce(0) { $0 + 2 + $1.encoded.count })
        header.encode(to: &writer)
        writer.signature(Signature(signing: header.id.raw, with: signer))
        writer.list(transactions, prefix: .u32) { $0.variable($1.encoded) }
        return try Block(decoding: writer.bytes)
    }

    /// Whether the header's transactions root matches the transactions.
    public var transactionsRootMatches: Bool {
        Digest.merkleRoot(transactions.map(\.id)) == header.transactionsRoot
    }

    public static func == (a: Block, b: Block) -> Bool { a.encoded == b.encoded }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// `block <height> <id> by <producer> (<n> transactions)`.
    public var description: String {
        "block \(header.height) \(id) by \(header.producer) (\(transactions.count) transactions)"
    }
}
