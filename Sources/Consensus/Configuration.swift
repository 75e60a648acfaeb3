import Ledger

/// Why a block was refused. A refused block changes nothing: not the tree, not the
/// state, not the votes. Checks run cheapest first, so a bad block costs at most one
/// producer signature check, one certificate (≤ 21 signatures) and, last, its
/// transactions.
public enum ProposalRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// Larger than the chain's `maxBlockBytes`.
    case oversized(bytes: Int, limit: Int)
    case wrongChain(expected: ChainID, found: ChainID)
    /// Already known (in the tree or recently final): a replay.
    case duplicate(BlockID)
    /// At or below the last final height: it can only conflict with, or repeat, final blocks.
    case notAboveFinal(height: UInt64, finalHeight: UInt64)
    /// The parent is not a known non-final block or the final one (fetch it first, or
    /// it is on a branch that lost to finality).
    case unknownParent(BlockID)
    case wrongHeight(height: UInt64, parentHeight: UInt64)
    /// Slots strictly increase along a branch.
    case slotNotAfterParent(slot: UInt64, parentSlot: UInt64)
    /// The timestamp is not inside the slot the header names.
    case timestampOutsideSlot(timestampMs: UInt64, slot: UInt64)
    /// Ahead of the local clock by more than the tolerance.
    case fromTheFuture(timestampMs: UInt64, nowMs: UInt64)
    /// Not the producer the round's schedule gives the slot.
    case wrongProducer(slot: UInt64, expected: Address, found: Address)
    /// The round's anchor (a final block) is no longer remembered.
    case anchorUnavailable(BlockID)
    /// The producer already has two blocks in this slot (the second was evidence).
    case tooManyBlocksInSlot(producer: Address, slot: UInt64)
    /// The producer has no registration in the parent's state.
    case unknownProducer(Address)
    /// The signature is not the producer's registered signing key's.
    case badProducerSignature(Address)
    /// `justify` certifies a block that is not an ancestor (or is unknown, or too old).
    case justifyNotAncestor(BlockID)
    /// `justify` does not verify against its block's round.
    case badJustify(CertificateRejection)
    /// The state machine refused the block (a transaction, the root, duplicates...).
    case invalid(BlockRejection)

    public var description: String {
        switch self {
        case let .oversized(bytes, limit): "block: \(bytes) bytes > \(limit)"
        case let .wrongChain(expected, found): "header.chain: \(found) is not this chain (\(expected))"
        case let .duplicate(id): "block \(id): already known"
        case let .notAboveFinal(height, finalHeight): "header.height: \(height) is not above the final height \(finalHeight)"
        case let .unknownParent(id): "header.parent: \(id) is unknown"
        case let .wrongHeight(height, parentHeight): "header.height: \(height) does not follow the parent's \(parentHeight)"
        case let .slotNotAfterParent(slot, parentSlot): "header.slot: \(slot) is not after the parent's \(parentSlot)"
        case let .timestampOutsideSlot(timestamp, slot): "header.timestampMs: \(timestamp) is outside slot \(slot)"
        case let .fromTheFuture(timestamp, now): "header.timestampMs: \(timestamp) is ahead of the clock (\(now))"
        case let .wrongProducer(slot, expected, found): "header.producer: slot \(slot) is \(expected)'s, not \(found)'s"
        case let .anchorUnavailable(id): "schedule: anchor \(id) is no longer known"
        case let .tooManyBlocksInSlot(producer, slot): "header: producer \(producer) already has two blocks in slot \(slot)"
        case let .unknownProducer(producer): "header.producer: \(producer) is not a registered producer"
        case let .badProducerSignature(producer): "signature: not by the signing key of producer \(producer)"
        case let .justifyNotAncestor(id): "header.justify: \(id) is not a known ancestor"
        case let .badJustify(reason): "header.justify: \(reason)"
        case let .invalid(reason): reason.description
        }
    }
}

/// Tunables that are local policy, not chain rules.
public struct ConsensusConfiguration: Hashable, Sendable {
    /// How far ahead of the local clock a block's timestamp may be, milliseconds.
    public var clockToleranceMs: UInt64
    /// A producer votes only for a block of the current slot or up to this many before.
    public var voteWindowSlots: UInt64
    /// Final blocks remembered with their round and election (for late `justify`s and
    /// round anchors); at least 1.
    public var finalHistory: Int
    /// Votes held for blocks not yet seen.
    public var pendingVoteLimit: Int
    /// Bytes of a block kept for the header and the list prefix when filling it.
    public var headerReserveBytes: Int

    /// The defaults suit 1-second slots.
    public init(clockToleranceMs: UInt64 = 500, voteWindowSlots: UInt64 = 2, finalHistory: Int = 256,
                pendingVoteLimit: Int = 1024, headerReserveBytes: Int = 4096) {
        self.clockToleranceMs = clockToleranceMs
        self.voteWindowSlots = voteWindowSlots
        self.finalHistory = max(1, finalHistory)
        self.pendingVoteLimit = pendingVoteLimit
        self.headerReserveBytes = headerReserveBytes
    }
}

/// A final block as the engine remembers it after pruning it from the tree.
struct FinalRecord: Sendable {
    let id: BlockID
    let height: UInt64
    let parent: BlockID
    let justifiesParent: Bool
    let schedule: Schedule
    /// `Election.elect` over the state right after the block.
    let elected: [Election.Standing]
}

/// Recent final blocks, by id: the newest `limit`, plus any older one still named as the
/// anchor (`branchFinal`) of a block in the tree, which the next round may need.
struct FinalHistory: Sendable {
    private var records: [BlockID: FinalRecord] = [:]
    private var order: [BlockID] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    subscript(id: BlockID) -> FinalRecord? { records[id] }

    /// The newest record.
    var last: FinalRecord? { order.last.flatMap { records[$0] } }

    var count: Int { order.count }

    mutating func append(_ record: FinalRecord) {
        records[record.id] = record
        order.append(record.id)
    }

    /// Drops the oldest records beyond `limit`, except those in `needed`.
    mutating func trim(keeping needed: Set<BlockID>) {
        guard order.count > limit else { return }
        let excess = order.count - limit
        var kept: [BlockID] = []
        kept.reserveCapacity(limit + needed.count)
        for (index, id) in order.enumerated() {
            if index < excess && !needed.contains(id) {
                records[id] = nil
            } else {
                kept.append(id)
            }
        }
        order = kept
    }
}
