import ChainStore
import Consensus
import Control
import Crypto
import Ledger
import Logging
import Posix

/// The chain node proper, driven by explicit calls and times (Unix ms) so tests can run it
/// without waiting: the ChainStore, the consensus engine with this station as a producer,
/// the mempool, and the files that bring it back after a restart. Not thread-safe and
/// blocking (fsync): `ChainService` runs it on one serial queue, off the cooperative pool.
///
/// Durable order of every step: final blocks go to the store inside the engine
/// (`ChainStoreProvider.commitFinal`), then the non-final blocks to the pending-blocks
/// file, then the safety record (`DeferredVotePersistence.flush`), and only then would
/// anything be sent to peers.
///
/// A start resumes from disk: the store is opened (and recovered), the engine is built at
/// the genesis (all it can do, see Consensus's README), and the stored blocks then the
/// pending ones are replayed into it (`replay(maxBlocks:now:)`, in steps) — their state
/// in memory meanwhile — until it has made the store's head final again.
final class ChainNode {
    let genesis: Genesis
    let key: SigningKey
    /// The station's account and producer signing key.
    let address: Address
    let directory: String
    let store: ChainStore
    let provider: ChainStoreProvider
    private(set) var engine: ConsensusEngine<ChainStoreProvider>
    let votes: DeferredVotePersistence
    let pendingFile: PendingBlocksFile
    let mempool: ChainMempool
    /// Shared by the mempool, the engine and the store: a signature is verified once.
    let verifier: ParallelVerifier
    private let logger: Logger

    /// Replay: the next stored height to feed the engine, the last one, then the pending blocks.
    private var replayNext: UInt64 = 1
    private let replayEnd: UInt64
    private var replayPending: [Block]
    private(set) var syncing: Bool
    private let replayStartedNs: UInt64
    /// The highest block the node knew of at start (stored or pending).
    let startHeight: UInt64

    /// The non-final blocks last written to the pending file.
    private var pendingWritten: [BlockID] = []
    /// The mempool's view: the head state with the waiting transactions applied.
    private var poolView: StateOverlay<StateOverlay<ChainFinalState>>?
    private var poolViewHead: BlockID?
    /// The safety record could not be written: set until it can (nothing may be sent).
    private(set) var recordProblem: String?
    /// The last final height logged at info level.
    private var lastLoggedFinal: UInt64 = 0

    /// Files under `directory`: the store (`blocks/`, `state.db`, `snapshots/`), the safety
    /// record `vote` and the non-final blocks `pending`.
    init(genesis: Genesis, directory: String, key: SigningKey, mempoolCapacity: Int = 4096,
         storeConfiguration: ChainStore.Configuration = ChainStore.Configuration(), logger: Logger) throws {
        self.genesis = genesis
        self.key = key
        address = Address(key.publicKey)
        self.directory = directory
        self.logger = logger
        verifier = ParallelVerifier(cache: SignatureCache(capacity: 32_768))
        do {
            try FileSystem.createDirectory(directory, mode: 0o750)
        } catch {
            throw ChainNodeError("cannot create the chain directory: \(error)")
        }
        let opened = SystemClock.monotonicNanoseconds()
        do {
            store = try ChainStore(directory: directory, genesis: genesis, configuration: storeConfiguration, verifier: verifier)
        } catch {
            throw ChainNodeError("cannot open the chain store in \(directory): \(error)")
        }
        let recovery = store.recovery
        let openSeconds = Self.seconds(since: opened)
        if recovery.isClean {
            logger.info("chain store \(directory): \(recovery) (\(openSeconds) s); head \(store.head.height)")
        } else {
            logger.notice("chain store \(directory) recovered: \(recovery) (\(openSeconds) s); head \(store.head.height)")
        }
        provider = ChainStoreProvider(store: store, genesis: genesis)
        votes = DeferredVotePersistence(path: "\(directory)/vote")
        pendingFile = PendingBlocksFile(path: "\(directory)/pending")
        let mempool = ChainMempool(capacity: mempoolCapacity)
        self.mempool = mempool
        do {
            engine = try ConsensusEngine(genesis: genesis, provider: provider,
                                         producer: LocalProducer(account: address, signingKey: key), persistence: votes,
                                         transactions: ClosureTransactionSource { _, maxBytes in mempool.candidates(maxBytes: maxBytes) },
                                         verifier: verifier)
        } catch {
            store.close()
            throw ChainNodeError("cannot start consensus: \(error)")
        }
        let (pending, problem) = pendingFile.read()
        if let problem { logger.warning("pending blocks not used: \(problem)") }
        let storedHead = store.head.height
        let pendingAbove = pending.filter { $0.header.height > storedHead }
        let resumeHeight = max(storedHead, pendingAbove.map(\.header.height).max() ?? 0)
        replayEnd = storedHead
        replayPending = pendingAbove
        startHeight = resumeHeight
        syncing = resumeHeight > 0
        replayStartedNs = SystemClock.monotonicNanoseconds()
        if resumeHeight > 0 {
            logger.info("resuming at height \(resumeHeight): replaying \(storedHead) stored and \(pendingAbove.count) pending blocks")
        }
    }

    /// Commits the store's pending state and closes its files.
    func close() {
        try? votes.flush()
        store.close()
    }

    // MARK: Replay

    /// Feeds the engine up to `maxBlocks` more of the blocks found at start; true once all
    /// are in. A stored block the engine refuses stops the node (thrown): it could only
    /// produce a branch the store contradicts.
    @discardableResult
    func replay(maxBlocks: Int, now: UInt64) throws -> Bool {
        guard syncing else { return true }
        var fed = 0
        var actions: [ConsensusAction] = []
        while fed < maxBlocks, replayNext <= replayEnd {
            let height = replayNext
            guard let block = try store.block(at: height) else {
                throw ChainNodeError("stored block \(height) is missing")
            }
            do {
                actions += try engine.onBlock(block, now: now)
            } catch {
                throw ChainNodeError("stored block \(height) \(block.id) refused on replay: \(error)")
            }
            replayNext += 1
            fed += 1
        }
        if replayNext > replayEnd {
            while fed < maxBlocks, !replayPending.isEmpty {
                let block = replayPending.removeFirst()
                fed += 1
                guard !engine.tree.contains(block.id) else { continue }
                do {
                    actions += try engine.onBlock(block, now: now)
                } catch {
                    logger.warning("pending block \(block.header.height) \(block.id) not used: \(error)")
                }
            }
        }
        let done = replayNext > replayEnd && replayPending.isEmpty
        if done {
            syncing = false
            let status = engine.status
            logger.notice("replayed \(replayEnd) stored blocks in \(Self.seconds(since: replayStartedNs)) s; head \(status.headHeight), final \(status.finalHeight)")
        }
        settle(actions, replaying: true)
        if done {
            writePending()
            refreshPool()
        }
        return done
    }

    // MARK: Running

    /// The clock moved to `now`: produce if the slot is ours, vote, finalize.
    func tick(now: UInt64) {
        guard !syncing else { return }
        settle(engine.onTick(now: now), replaying: false)
    }

    /// Carries out the engine's actions in the durable order (see the type), then
    /// refreshes the mempool if the head moved.
    private func settle(_ actions: [ConsensusAction], replaying: Bool) {
        var outgoing: [String] = []
        var discarded = Set<TransactionID>()
        for action in actions {
            switch action {
            case let .finalized(blocks):
                for block in blocks { logFinal(block, replaying: replaying) }
            case let .broadcastBlock(block):
                outgoing.append("block \(block.header.height) \(block.id)")
            case let .broadcastVote(vote):
                outgoing.append("vote \(vote.height) \(vote.block)")
            case let .evidence(evidence):
                logger.warning("equivocation: \(evidence)")
            case let .discarded(id, reason):
                discarded.insert(id)
                logger.info("transaction \(id) dropped from the mempool: \(reason)")
            case let .productionFailed(reason):
                logger.error("producing failed: \(reason)")
            case let .persistenceFailed(reason):
                logger.critical("\(reason)")
            }
        }
        mempool.remove(discarded)
        if !replaying { writePending() }
        do {
            try votes.flush()
            if recordProblem != nil { logger.notice("safety record written again") }
            recordProblem = nil
        } catch {
            if recordProblem == nil { logger.critical("cannot write the safety record: \(error); nothing is sent until it is") }
            recordProblem = "\(error)"
            return
        }
        // PeerNet does not exist yet: nothing to send to.
        for message in outgoing { logger.debug("no peers, not sending \(message)") }
        if !replaying, poolViewHead != engine.head.id { refreshPool() }
    }

    private func logFinal(_ block: Block, replaying: Bool) {
        let height = block.header.height
        if !block.transactions.isEmpty && !replaying {
            logger.info("block \(height) \(block.id) final with \(block.transactions.count) transaction(s)")
        } else if !replaying && height >= lastLoggedFinal + 600 {
            logger.info("final height \(height)")
        } else {
            logger.debug("block \(height) \(block.id) final")
            return
        }
        lastLoggedFinal = height
    }

    /// Writes the non-final blocks when they changed, so a restart finds the same head.
    private func writePending() {
        let blocks = engine.tree.blocks
        let ids = blocks.map(\.id)
        guard ids != pendingWritten else { return }
        do {
            try pendingFile.write(blocks)
            pendingWritten = ids
        } catch {
            logger.error("cannot write the pending blocks: \(error)")
        }
    }

    // MARK: Mempool

    /// The context a transaction is checked in: the next block, produced here.
    private var nextBlockContext: BlockContext { BlockContext(height: engine.head.height + 1, producer: address) }

    /// Rebuilds the mempool's view on the new head, dropping what no longer applies
    /// (included in a block, expired, outspent).
    private func refreshPool() {
        let head = engine.head
        guard let state = engine.state(at: head.id) else { return }
        var view = StateOverlay(base: state)
        var dropped = Set<TransactionID>()
        let context = nextBlockContext
        for transaction in mempool.transactions {
            do {
                try engine.machine.apply(transaction, in: context, to: &view, signatures: .cached(verifier))
            } catch {
                dropped.insert(transaction.id)
                if case .replayedNonce = error { continue }  // included in a block
                logger.info("transaction \(transaction.id) dropped from the mempool: \(error)")
            }
        }
        mempool.remove(dropped)
        poolView = view
        poolViewHead = head.id
    }

    /// Validates a signed transaction (its canonical encoding) against the head state with
    /// the waiting transactions applied, verifying its signatures once, and queues it for
    /// the next blocks. The error names the field at fault.
    func submit(_ bytes: [UInt8]) -> Result<SignedTransaction, ChainNodeError> {
        guard !syncing else { return .failure(ChainNodeError("the node is still replaying its stored blocks; try again shortly")) }
        let transaction: SignedTransaction
        do { transaction = try SignedTransaction(decoding: bytes) } catch {
            return .failure(ChainNodeError("malformed: \(error)"))
        }
        guard !mempool.contains(transaction.id) else {
            return .failure(ChainNodeError("transaction \(transaction.id) is already in the mempool"))
        }
        if let full = mempool.roomProblem(for: transaction) { return .failure(ChainNodeError(full)) }
        if poolViewHead != engine.head.id { refreshPool() }
        guard var view = poolView else { return .failure(ChainNodeError("no head state")) }
        do {
            try engine.machine.apply(transaction, in: nextBlockContext, to: &view, signatures: .cached(verifier))
        } catch {
            return .failure(ChainNodeError("rejected: \(error)"))
        }
        poolView = view
        mempool.add(transaction)
        logger.info("accepted \(transaction)")
        return .success(transaction)
    }

    // MARK: Views

    /// Height, final height, head and producers; while replaying, the heights found at start.
    var statusReport: ChainStatusReport {
        let status = engine.status
        let producers = engine.head.schedule.producers.map(\.address.description)
        if syncing {
            return ChainStatusReport(height: max(startHeight, status.headHeight),
                                     finalHeight: max(store.finalHeight, status.finalHeight),
                                     head: status.headID.description, producers: producers, peers: 0, syncing: true)
        }
        return ChainStatusReport(height: status.headHeight, finalHeight: status.finalHeight, head: status.headID.description,
                                 producers: producers, peers: 0, syncing: false)
    }

    /// The block at `height` on the head's branch: from the store if final there, else from
    /// the engine's tree; nil above the head (and for 0, the genesis).
    func blockReport(height: UInt64) throws -> ChainBlockReport? {
        let block: Block
        let final: Bool
        if height <= store.head.height, let stored = try store.block(at: height) {
            block = stored
            final = true
        } else if let node = engine.tree.ancestor(of: engine.head.id, atHeight: height), let held = node.block {
            block = held
            final = height <= engine.final.height
        } else {
            return nil
        }
        let header = block.header
        return ChainBlockReport(height: header.height, id: block.id.description, parent: header.parent.description,
                                timestampMs: header.timestampMs, slot: header.slot, producer: header.producer.description,
                                transactionsRoot: header.transactionsRoot.description, stateRoot: header.stateRoot.description,
                                justifyHeight: header.justify?.height, justifyBlock: header.justify?.block.description,
                                final: final, size: block.encoded.count, transactions: block.transactions.map(\.id.description))
    }

    /// An account as of the head (final and non-final blocks).
    func accountReport(_ account: Address) -> ChainAccountReport? {
        guard !syncing, let state = engine.state(at: engine.head.id) else { return nil }
        let entry = state.account(account) ?? .empty
        return ChainAccountReport(address: account.description, balance: entry.balance.decimal, balanceUnits: entry.balance.units,
                                  nonce: entry.nonce, votes: state.votes(of: account).map(\.description),
                                  height: engine.head.height)
    }

    static func seconds(since start: UInt64) -> Double {
        (Double(SystemClock.monotonicNanoseconds() - start) / 1e6).rounded() / 1000
    }
}
