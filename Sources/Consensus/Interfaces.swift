import Crypto
import Ledger

/// The state after the last final block, and where newly final blocks go. The engine
/// keeps the writes of non-final blocks itself (each block's `StateChanges`, laid over
/// `finalState` in a `StateOverlay`), so a provider only ever moves forward, one final
/// block at a time and in chain order. ChainStore's SQLite state plugs in here;
/// `InMemoryStateProvider` is the reference.
public protocol StateProvider {
    associatedtype State: LedgerState
    /// The state after the last final block (the genesis state at first). Read often:
    /// a reference or a copy-on-write value, never a deep copy.
    var finalState: State { get }
    /// Makes `block` final: applies `changes` (exactly what the state machine staged for
    /// it on top of `finalState`) and records the block. All or nothing: if it throws,
    /// the state is as before and the engine keeps the block non-final.
    mutating func commitFinal(_ block: Block, changes: StateChanges) throws
}

/// Final state and blocks in memory: tests, tools, and the single-process simulator.
public struct InMemoryStateProvider: StateProvider, Sendable {
    /// The state after the last final block.
    public private(set) var finalState: InMemoryLedgerState
    /// Every final block, in chain order.
    public private(set) var finalBlocks: [Block] = []

    /// The state right after `genesis`.
    public init(genesis: Genesis) { finalState = InMemoryLedgerState(genesis: genesis) }

    public mutating func commitFinal(_ block: Block, changes: StateChanges) throws {
        finalState.commit(changes)
        finalBlocks.append(block)
    }
}

/// Where a producer's blocks get their transactions (the mempool). The engine applies
/// the candidates in order on the parent's state and keeps those that pass and fit;
/// the others are reported as `ConsensusAction.discarded`.
public protocol TransactionSource {
    /// Candidates for a block at `height`, best first, about `maxBytes` of encodings.
    func candidates(height: UInt64, maxBytes: Int) -> [SignedTransaction]
}

/// A source with nothing to offer: empty blocks.
public struct NoTransactions: TransactionSource, Sendable {
    /// The empty source.
    public init() {}
    public func candidates(height: UInt64, maxBytes: Int) -> [SignedTransaction] { [] }
}

/// A source backed by a closure.
public struct ClosureTransactionSource: TransactionSource {
    private let body: (UInt64, Int) -> [SignedTransaction]

    /// `body(height, maxBytes)` returns the candidates.
    public init(_ body: @escaping (UInt64, Int) -> [SignedTransaction]) { self.body = body }

    public func candidates(height: UInt64, maxBytes: Int) -> [SignedTransaction] { body(height, maxBytes) }
}

/// Something the engine asks its owner to do, or tells it, in order.
public enum ConsensusAction: Hashable, Sendable, CustomStringConvertible {
    /// Send this block (produced here) to the peers.
    case broadcastBlock(Block)
    /// Send this vote (signed here, already persisted) to the peers.
    case broadcastVote(BlockVote)
    /// These blocks became final, oldest first; their state is committed.
    case finalized([Block])
    /// A producer was caught signing two conflicting messages.
    case evidence(Evidence)
    /// A mempool candidate failed on the parent's state and was left out.
    case discarded(TransactionID, TransactionRejection)
    /// Producing the block for this slot failed (a bug if it ever happens): nothing was sent.
    case productionFailed(String)
    /// Persisting the safety record or committing final state failed: the vote or block
    /// it guarded was not sent, or finality stopped before this block.
    case persistenceFailed(String)

    public var description: String {
        switch self {
        case let .broadcastBlock(block): "broadcast \(block)"
        case let .broadcastVote(vote): "broadcast \(vote)"
        case let .finalized(blocks): "finalized \(blocks.count) blocks up to \(blocks.last.map { "\($0.header.height)" } ?? "-")"
        case let .evidence(evidence): "evidence: \(evidence)"
        case let .discarded(id, reason): "discarded \(id): \(reason)"
        case let .productionFailed(message): "production failed: \(message)"
        case let .persistenceFailed(message): "persistence failed: \(message)"
        }
    }
}

/// This node's producer identity: the account elected and the hot key that signs its
/// blocks and votes (the `signingKey` of its registration).
public struct LocalProducer: Sendable {
    /// The elected account (the block header's `producer`).
    public let account: Address
    /// The hot key matching the registration's `signingKey`.
    public let signingKey: SigningKey

    /// An identity; the engine only votes when `signingKey` matches the round's record.
    public init(account: Address, signingKey: SigningKey) {
        self.account = account
        self.signingKey = signingKey
    }
}

/// A summary of the engine's view, cheap to compare before and after an input.
public struct ConsensusStatus: Hashable, Sendable, CustomStringConvertible {
    /// The last final block.
    public let finalHeight: UInt64
    public let finalID: BlockID
    /// The fork-choice head.
    public let headHeight: UInt64
    public let headID: BlockID
    /// Height of the highest certified block on the head's branch (the final one if none above).
    public let highestCertifiedHeight: UInt64
    /// Non-final blocks held.
    public let blocks: Int
    /// Evidence items held.
    public let evidence: Int

    public var description: String {
        "final \(finalHeight), head \(headHeight), highest QC \(highestCertifiedHeight), \(blocks) non-final, \(evidence) evidence"
    }
}
