/// How `StateMachine.apply` checks signatures.
public enum SignatureCheck: Sendable {
    /// Verify them here, on this core.
    case verify
    /// Skip them if the verifier's cache vouches for the transaction; otherwise verify
    /// and cache. The mempool's mode: each signature is verified once.
    case cached(ParallelVerifier)
}

/// Where a transaction is being applied: the block's height and its producer, who
/// receives the fees.
public struct BlockContext: Hashable, Sendable {
    public var height: UInt64
    public var producer: Address

    public init(height: UInt64, producer: Address) {
        self.height = height
        self.producer = producer
    }
}

/// The chain's pure state machine: validates transactions and blocks against a
/// `LedgerState` and applies them atomically. No I/O, no clock, no randomness: the same
/// inputs give the same state on every node.
public struct StateMachine: Sendable {
    public let chainID: ChainID
    public let parameters: ChainParameters

    public init(genesis: Genesis) {
        chainID = genesis.chainID
        parameters = genesis.parameters
    }

    /// The writes that create the genesis state: balances and producers.
    public static func genesisChanges(_ genesis: Genesis) -> StateChanges {
        var changes = StateChanges()
        for allocation in genesis.allocations {
            changes.accounts[allocation.address] = Account(balance: allocation.amount)
        }
        for producer in genesis.producers {
            changes.producers[producer.address] = producer.registration
        }
        return changes
    }

    /// Validates `transaction` and applies it to `state`, all or nothing.
    public func apply<S: LedgerState>(_ transaction: SignedTransaction, in context: BlockContext, to state: inout S,
                                      signatures: SignatureCheck = .verify) throws(TransactionRejection) {
        let changes = try stage(transaction, in: context, on: state, signatures: signatures)
        state.commit(changes)
    }

    /// Decodes wire bytes and applies them; returns the transaction.
    @discardableResult
    public func apply<S: LedgerState>(bytes: [UInt8], in context: BlockContext, to state: inout S,
                                      signatures: SignatureCheck = .verify) throws(TransactionRejection) -> SignedTransaction {
        let transaction: SignedTransaction
        do { transaction = try SignedTransaction(decoding: bytes) } catch { throw .malformed(error) }
        try apply(transaction, in: context, to: &state, signatures: signatures)
        return transaction
    }

    /// What applying `transaction` would write, without writing it (a dry run).
    public func stage<S: LedgerState>(_ transaction: SignedTransaction, in context: BlockContext, on state: S,
                                      signatures: SignatureCheck = .verify) throws(TransactionRejection) -> StateChanges {
        var overlay = StateOverlay(base: state)
        try applyStaged(transaction, in: context, to: &overlay, signatures: signatures)
        return overlay.changes
    }

    /// Validates `block` and applies its transactions in order, all or nothing: a block
    /// with any invalid part is rejected whole. With `parent`, also checks the link
    /// (height + 1, parent id, later timestamp). Transaction signatures are verified
    /// across the cores through `verifier` (and its cache) before anything is applied.
    public func applyBlock<S: LedgerState>(_ block: Block, to state: inout S, parent: BlockHeader? = nil,
                                           verifier: ParallelVerifier? = nil) throws(BlockRejection) {
        let changes = try stageBlock(block, on: state, parent: parent, verifier: verifier)
        state.commit(changes)
    }

    /// What applying `block` would write, without writing it.
    public func stageBlock<S: LedgerState>(_ block: Block, on state: S, parent: BlockHeader? = nil,
                                           verifier: ParallelVerifier? = nil) throws(BlockRejection) -> StateChanges {
        let header = block.header
        guard block.encoded.count <= Int(parameters.maxBlockBytes) else {
            throw .oversized(bytes: block.encoded.count, limit: Int(parameters.maxBlockBytes))
        }
        guard header.chain == chainID else { throw .wrongChain(expected: chainID, found: header.chain) }
        if let parent { try checkLink(header, parent: parent) }
        guard block.transactionsRootMatches else {
            throw .transactionsRootMismatch(header: header.transactionsRoot,
                                            computed: Digest.merkleRoot(block.transactions.map(\.id)))
        }
        guard let producer = state.producer(header.producer) else { throw .unknownProducer(header.producer) }
        guard block.signature.isValid(for: block.id.raw, by: producer.signingKey) else {
            throw .badProducerSignature(producer: header.producer)
        }
        var seen = Set<TransactionID>(minimumCapacity: block.transactions.count)
        for (index, transaction) in block.transactions.enumerated() where !seen.insert(transaction.id).inserted {
            throw .duplicateTransaction(index: index, id: transaction.id)
        }
        let verifier = verifier ?? ParallelVerifier(cache: SignatureCache(capacity: max(2, 2 * block.transactions.count)))
        if let (index, field) = verifier.firstInvalid(block.transactions) {
            throw .transaction(index: index, id: block.transactions[index].id, reason: .badSignature(field: field))
        }
        var overlay = StateOverlay(base: state)
        let context = BlockContext(height: header.height, producer: header.producer)
        for (index, transaction) in block.transactions.enumerated() {
            do {
                try applyStaged(transaction, in: context, to: &overlay, signatures: nil)
            } catch {
                throw .transaction(index: index, id: transaction.id, reason: error)
            }
        }
        return overlay.changes
    }

    private func checkLink(_ header: BlockHeader, parent: BlockHeader) throws(BlockRejection) {
        guard parent.height < .max, header.height == parent.height + 1 else {
            throw .notChild(reason: "height \(header.height) does not follow the parent's \(parent.height)")
        }
        guard header.parent == parent.id else {
            throw .notChild(reason: "parent \(header.parent) is not \(parent.id)")
        }
        guard header.timestampMs > parent.timestampMs else {
            throw .notChild(reason: "timestamp \(header.timestampMs) is not after the parent's \(parent.timestampMs)")
        }
    }
}

/// Why a transaction was rejected. A rejected transaction changes nothing.
public enum TransactionRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes are not a canonical transaction.
    case malformed(DecodeError)
    /// Larger than the chain's `maxTransactionBytes`.
    case oversized(bytes: Int, limit: Int)
    case wrongChain(expected: ChainID, found: ChainID)
    /// Included after its `validUntil` height.
    case expired(validUntil: UInt64, height: UInt64)
    case feeTooLow(fee: Amount, required: Amount)
    /// The nonce was already used: a replay.
    case replayedNonce(account: Address, nonce: UInt64, last: UInt64)
    /// The nonce skips ahead of the account's next one.
    case futureNonce(account: Address, nonce: UInt64, expected: UInt64)
    /// `field` is `signature` or `payload.settleSession.signature`.
    case badSignature(field: String)
    /// The account cannot pay `needed` (fee included).
    case insufficientFunds(account: Address, needed: Amount, available: Amount)
    /// A sum in `field` would exceed 64 bits.
    case amountOverflow(field: String)
    /// A rule of the payload is broken; `field` is its path from the transaction.
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case let .malformed(error): "malformed: \(error)"
        case let .oversized(bytes, limit): "transaction: \(bytes) bytes > \(limit)"
        case let .wrongChain(expected, found): "chain: \(found) is not this chain (\(expected))"
        case let .expired(validUntil, height): "validUntil: expired at height \(validUntil), now \(height)"
        case let .feeTooLow(fee, required): "fee: \(fee) < required \(required)"
        case let .replayedNonce(account, nonce, last): "nonce: \(nonce) replayed (account \(account) is at \(last))"
        case let .futureNonce(account, nonce, expected): "nonce: \(nonce) is ahead (account \(account) expects \(expected))"
        case let .badSignature(field): "\(field): invalid"
        case let .insufficientFunds(account, needed, available):
            "sender: account \(account) needs \(needed), has \(available)"
        case let .amountOverflow(field): "\(field): amount overflows"
        case let .invalid(field, reason): "\(field): \(reason)"
        }
    }
}

/// Why a block was rejected. A rejected block changes nothing, whichever part failed.
public enum BlockRejection: Error, Hashable, Sendable, CustomStringConvertible {
    case malformed(DecodeError)
    /// Larger than the chain's `maxBlockBytes`.
    case oversized(bytes: Int, limit: Int)
    case wrongChain(expected: ChainID, found: ChainID)
    /// Not the child of the given parent: `reason` says which link is wrong.
    case notChild(reason: String)
    case transactionsRootMismatch(header: Bytes32, computed: Bytes32)
    /// The header names an account that is not a registered producer.
    case unknownProducer(Address)
    /// The signature is not the producer's registered signing key's.
    case badProducerSignature(producer: Address)
    /// A transaction appears twice.
    case duplicateTransaction(index: Int, id: TransactionID)
    /// Transaction `index` (0-based) was rejected; so is the whole block.
    case transaction(index: Int, id: TransactionID, reason: TransactionRejection)

    public var description: String {
        switch self {
        case let .malformed(error): "malformed: \(error)"
        case let .oversized(bytes, limit): "block: \(bytes) bytes > \(limit)"
        case let .wrongChain(expected, found): "header.chain: \(found) is not this chain (\(expected))"
        case let .notChild(reason): "header: \(reason)"
        case let .transactionsRootMismatch(header, computed):
            "header.transactionsRoot: \(header) does not match the transactions (\(computed))"
        case let .unknownProducer(producer): "header.producer: \(producer) is not a registered producer"
        case let .badProducerSignature(producer): "signature: not by the signing key of producer \(producer)"
        case let .duplicateTransaction(index, id): "transactions[\(index)]: duplicate of \(id)"
        case let .transaction(index, id, reason): "transactions[\(index)] (\(id)): \(reason)"
        }
    }
}
