import Crypto
import Ledger

/// The consensus core of one node, a pure state machine driven by explicit inputs and a
/// clock the caller reads: `onTick(now:)` (produce in our slot, vote for the head),
/// `onBlock(_:now:)` and `onVote(_:)` (from peers). Each returns the actions to carry
/// out, in order. No I/O but `VotePersistence.persist` and `StateProvider.commitFinal`,
/// no clock, no randomness, no threads of its own (Ledger's verifier spreads signature
/// checks over the cores): the daemon owns those. Not `Sendable`: one owner drives it.
///
/// It keeps the non-final blocks in a `BlockTree` (each executed on its parent's state
/// with the Ledger's `StateMachine`), collects votes into quorum certificates, applies
/// the 2-chain finality rule, and commits final blocks to the `StateProvider`.
///
/// The provider must hold the genesis state when the engine starts: a restarted node
/// replays its blocks through `onBlock` (they re-finalize from the certificates in their
/// headers); its `SafetyRecord` comes back from `persistence`, and its last vote is
/// counted again when its block is replayed (the daemon may also re-send it: repeating a
/// vote is never equivocation).
public struct ConsensusEngine<Provider: StateProvider> {
    /// The chain, its rules, and its slot clock.
    public let genesis: Genesis
    public let machine: StateMachine
    public let clock: SlotClock
    public let configuration: ConsensusConfiguration
    /// This node's producer identity; nil for a node that only follows.
    public let producer: LocalProducer?
    /// Final state and blocks.
    public internal(set) var provider: Provider
    /// The last final block and the valid blocks above it.
    public internal(set) var tree: BlockTree
    /// This producer's voting record (as persisted).
    public internal(set) var safety: SafetyRules
    /// Votes counted and waiting.
    public internal(set) var collector: VoteCollector
    /// Equivocation caught so far (the newest `evidenceLimit`).
    public internal(set) var evidence: [Evidence] = []
    /// The most evidence items kept.
    public static var evidenceLimit: Int { 1024 }

    let persistence: any VotePersistence
    /// Where produced blocks get their transactions.
    public var transactions: any TransactionSource
    let verifier: ParallelVerifier
    var history: FinalHistory
    /// Blocks seen per producer and slot (at most two: the second is evidence).
    var proposals: [ProposalKey: [SignedHeader]] = [:]
    /// The merged writes from the root to one block (the last inserted), to extend cheaply.
    var cumulative: (id: BlockID, changes: StateChanges)?

    struct ProposalKey: Hashable {
        let producer: Address
        let slot: UInt64
    }

    /// Starts at the genesis. `provider` must hold the genesis state; the safety record is
    /// loaded from `persistence` (whatever it throws, the engine does not start).
    public init(genesis: Genesis, provider: Provider, producer: LocalProducer? = nil,
                persistence: any VotePersistence = InMemoryVotePersistence(),
                transactions: any TransactionSource = NoTransactions(),
                configuration: ConsensusConfiguration = ConsensusConfiguration(),
                verifier: ParallelVerifier = ParallelVerifier()) throws {
        self.genesis = genesis
        machine = StateMachine(genesis: genesis)
        clock = SlotClock(genesis: genesis)
        self.configuration = configuration
        self.producer = producer
        self.provider = provider
        self.persistence = persistence
        self.transactions = transactions
        self.verifier = verifier
        collector = VoteCollector(pendingLimit: configuration.pendingVoteLimit)
        safety = SafetyRules(record: try persistence.load() ?? SafetyRecord())
        // Our own last vote counts again once its block is replayed (it may never have left).
        if let vote = safety.record.lastVote { collector.buffer(vote) }
        let elected = Election.elect(provider.finalState, count: Int(genesis.parameters.producerCount))
        let schedule = Schedule.first(elected: elected, slotsPerProducer: UInt64(genesis.parameters.slotsPerProducer))
        tree = BlockTree(root: TreeNode(block: nil, id: .none, height: 0, slot: 0, timestampMs: genesis.timestampMs,
                                        parent: .none, schedule: schedule, branchFinal: .none, branchFinalHeight: 0,
                                        changes: StateChanges()))
        history = FinalHistory(limit: configuration.finalHistory)
        history.append(FinalRecord(id: .none, height: 0, parent: .none, justifiesParent: false, schedule: schedule,
                                   elected: elected))
    }

    // MARK: Views

    /// The fork-choice head.
    public var head: TreeNode { tree.head }

    /// The last final block (the genesis root, id `BlockID.none`, at first).
    public var final: TreeNode { tree.root }

    /// Heights and counts, for logs, the control socket and tests.
    public var status: ConsensusStatus {
        let head = tree.head
        return ConsensusStatus(finalHeight: tree.root.height, finalID: tree.rootID, headHeight: head.height, headID: head.id,
                               highestCertifiedHeight: tree.highestCertified(onBranchOf: head.id).height,
                               blocks: tree.count, evidence: evidence.count)
    }

    /// The round a block extending the head at `slot` (after the head's slot) belongs to.
    public func schedule(forSlot slot: UInt64) throws(ProposalRejection) -> Schedule {
        try schedule(forChildOf: tree.head, slot: slot)
    }

    /// The state after block `id` (final or in the tree), as a read-only overlay.
    public func state(at id: BlockID) -> StateOverlay<Provider.State>? {
        guard let node = tree[id] else { return nil }
        return view(at: node)
    }

    // MARK: Inputs

    /// The clock moved to `now` (Unix ms): produce if the slot is ours and we have not,
    /// and vote for the head if it is fresh and the safety rules allow.
    public mutating func onTick(now: UInt64) -> [ConsensusAction] {
        guard let slot = clock.slot(at: now) else { return [] }
        return produce(slot: slot, now: now) + voteForHead(now: now)
    }

    /// A block from a peer. Refused with the reason, changing nothing; or added to the
    /// tree, its certificate counted, its parent possibly final, our vote possibly cast.
    public mutating func onBlock(_ block: Block, now: UInt64) throws(ProposalRejection) -> [ConsensusAction] {
        let validated = try validate(block, now: now)
        return accept(validated) + voteForHead(now: now)
    }

    /// A block's wire bytes: decoded (bounded by `Limits.maxBlockBytes`), then `onBlock`.
    public mutating func onBlock(bytes: [UInt8], now: UInt64) throws(ProposalRejection) -> [ConsensusAction] {
        let block: Block
        do { block = try Block(decoding: bytes) } catch { throw .invalid(.malformed(error)) }
        return try onBlock(block, now: now)
    }

    /// A vote from a peer. A vote for a block not seen yet waits (bounded) for it.
    public mutating func onVote(_ vote: BlockVote) throws(VoteRejection) -> [ConsensusAction] {
        let root = tree.root
        guard vote.height > root.height else { throw .stale(height: vote.height, finalHeight: root.height) }
        guard let node = tree[vote.block] else {
            collector.buffer(vote)
            return []
        }
        return try count(vote, for: node)
    }

    /// A vote's wire bytes: decoded, then `onVote`.
    public mutating func onVote(bytes: [UInt8]) throws(VoteRejection) -> [ConsensusAction] {
        let vote: BlockVote
        do { vote = try BlockVote(decoding: bytes) } catch { throw .malformed(error) }
        return try onVote(vote)
    }

    // MARK: Production and voting

    mutating func produce(slot: UInt64, now: UInt64) -> [ConsensusAction] {
        guard let producer, safety.allowsProduction(slot: slot) else { return [] }
        let parent = tree.head
        guard slot > parent.slot else { return [] }
        let schedule: Schedule
        do {
            schedule = try self.schedule(forChildOf: parent, slot: slot)
        } catch {
            return [.productionFailed("slot \(slot): \(error)")]
        }
        guard let member = schedule.producer(at: slot), member.address == producer.account else { return [] }
        let height = parent.height + 1
        var actions: [ConsensusAction] = []
        var staged = StateOverlay(base: view(at: parent))
        var chosen: [SignedTransaction] = []
        var ids = Set<TransactionID>()
        var bytes = 0
        let budget = Int(genesis.parameters.maxBlockBytes) - configuration.headerReserveBytes
        let context = BlockContext(height: height, producer: producer.account)
        for transaction in transactions.candidates(height: height, maxBytes: budget) {
            guard bytes + 2 + transaction.encoded.count <= budget, !ids.contains(transaction.id) else { continue }
            do {
                try machine.apply(transaction, in: context, to: &staged, signatures: .cached(verifier))
                chosen.append(transaction)
                ids.insert(transaction.id)
                bytes += 2 + transaction.encoded.count
            } catch {
                actions.append(.discarded(transaction.id, error))
            }
        }
        let justify = tree.highestCertified(onBranchOf: parent.id).certificate
        let header = BlockHeader(chain: genesis.chainID, height: height, parent: parent.id, timestampMs: now, slot: slot,
                                 producer: producer.account, justify: justify)
        let block: Block
        let validated: Validated
        do {
            block = try Block.assemble(header: header, transactions: chosen, signer: producer.signingKey)
            validated = try validate(block, now: now)
        } catch {
            return actions + [.productionFailed("slot \(slot): \(error)")]
        }
        // The new block is the head (it extends the old head, a leaf): vote for it too,
        // and persist the produced slot and the vote together, before either leaves.
        let justifyHeight = justify?.height ?? 0
        let vote = mayVote(member: member, height: height, justifyHeight: justifyHeight)
            ? BlockVote.sign(block: block.id, height: height, producer: producer.account, chain: genesis.chainID,
                             with: producer.signingKey)
            : nil
        do {
            try safety.record(vote: vote, justifyHeight: justifyHeight, producedSlot: slot, to: persistence)
        } catch {
            return actions + [.persistenceFailed("block in slot \(slot): \(error)")]
        }
        actions.append(.broadcastBlock(block))
        actions += accept(validated)
        if let vote, let node = tree[block.id] {
            actions.append(.broadcastVote(vote))
            actions += (try? count(vote, for: node)) ?? []
        }
        return actions
    }

    /// Votes for the head if it is fresh, of a round we produce in, and safe.
    mutating func voteForHead(now: UInt64) -> [ConsensusAction] {
        guard let producer, let slot = clock.slot(at: now) else { return [] }
        let head = tree.head
        guard head.id != tree.rootID, slot - min(slot, configuration.voteWindowSlots) <= head.slot,
              let member = head.schedule.member(producer.account),
              mayVote(member: member, height: head.height, justifyHeight: head.justifyHeight) else { return [] }
        let vote = BlockVote.sign(block: head.id, height: head.height, producer: producer.account, chain: genesis.chainID,
                                  with: producer.signingKey)
        do {
            try safety.record(vote: vote, justifyHeight: head.justifyHeight, to: persistence)
        } catch {
            return [.persistenceFailed("vote at height \(head.height): \(error)")]
        }
        return [.broadcastVote(vote)] + ((try? count(vote, for: head)) ?? [])
    }

    /// Whether our key is the one the round knows and the safety rules allow the vote.
    private func mayVote(member: ScheduledProducer, height: UInt64, justifyHeight: UInt64) -> Bool {
        guard let producer, member.signingKey == Address(producer.signingKey.publicKey) else { return false }
        return safety.allowsVote(height: height, justifyHeight: justifyHeight)
    }

    /// Counts a vote for a block in the tree; a certificate may make blocks final.
    mutating func count(_ vote: BlockVote, for node: TreeNode) throws(VoteRejection) -> [ConsensusAction] {
        switch try collector.add(vote, blockHeight: node.height, schedule: node.schedule, chain: genesis.chainID,
                                 certified: node.certificate != nil) {
        case .counted, .ignored: return []
        case let .certified(certificate): return certify(certificate)
        case let .equivocation(evidence): return record(evidence)
        }
    }

    mutating func record(_ new: Evidence) -> [ConsensusAction] {
        evidence.append(new)
        if evidence.count > Self.evidenceLimit { evidence.removeFirst(evidence.count - Self.evidenceLimit) }
        return [.evidence(new)]
    }
}
