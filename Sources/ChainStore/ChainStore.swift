import Ledger
import Posix

/// The node's chain on disk: the block log under `<directory>/blocks/`, the state in
/// SQLite at `<directory>/state.db`, snapshots of it under `<directory>/snapshots/`.
///
/// Every block is validated by Ledger's `StateMachine` against the stored state, then
/// written to the log and fsynced, and only then is its state committed (in one SQLite
/// transaction with its index row, the new head and its undo rows). So the state never
/// holds a block the log does not, and `init` (recovery) brings the state to exactly the
/// replay of the stored blocks after a crash at any instant. See the README.
///
/// Not thread-safe: one owner (the node's chain actor) calls it.
public final class ChainStore {
    /// The store's folder.
    public let directory: String
    /// How the store was opened.
    public let configuration: Configuration
    /// The rules every block is validated with (the genesis's chain and parameters).
    public let machine: StateMachine
    /// The stored state. Read it (directly or under a `StateOverlay`); never commit to it.
    public let state: SQLiteState
    /// What opening found and repaired.
    public internal(set) var recovery = RecoveryReport()
    let log: BlockLog
    let verifier: ParallelVerifier
    /// The head block's header; nil at the genesis.
    public internal(set) var headHeader: BlockHeader?
    /// The last automatic snapshot's error, nil once one succeeds again.
    public internal(set) var snapshotFailure: ChainStoreError?
    /// Blocks and transactions in the open transaction, and when it began (monotonic ns).
    var uncommitted: (blocks: Int, transactions: Int, since: UInt64) = (0, 0, 0)
    /// Set when memory and disk may disagree; every later write throws until reopened.
    var broken: String?
    /// Test hook: called at each step where a crash is interesting.
    var crashPoint: ((CrashPoint) -> Void)?

    /// Opens (or creates) the store in `directory` for the chain of `genesis` and
    /// recovers it (see `RecoveryReport`). `verifier` checks transaction signatures (pass
    /// the mempool's to skip those it has verified); by default a private small one.
    public convenience init(directory: String, genesis: Genesis, configuration: Configuration = Configuration(),
                            verifier: ParallelVerifier? = nil) throws(ChainStoreError) {
        try self.init(directory: directory, genesis: genesis, configuration: configuration, verifier: verifier,
                      crashPoint: nil)
    }

    /// As the public init, with a test hook that also sees recovery's steps.
    init(directory: String, genesis: Genesis, configuration: Configuration, verifier: ParallelVerifier?,
         crashPoint: ((CrashPoint) -> Void)?) throws(ChainStoreError) {
        self.crashPoint = crashPoint
        self.directory = directory
        self.configuration = configuration
        machine = StateMachine(genesis: genesis)
        self.verifier = verifier ?? ParallelVerifier(cache: SignatureCache(capacity: 4096))
        do {
            try FileSystem.createDirectory(directory)
            try FileSystem.createDirectory(Self.snapshotDirectory(directory))
        } catch {
            throw .system(error)
        }
        log = try BlockLog(directory: "\(directory)/blocks", segmentLimit: configuration.segmentBytes)
        var report = RecoveryReport()
        state = try Self.openState(directory: directory, genesis: genesis, configuration: configuration, log: log,
                                   report: &report)
        recovery = report
        try recover()
    }

    deinit { close() }

    /// Commits pending state, checkpoints the WAL and closes files. The store must not
    /// be used afterwards.
    public func close() {
        if broken == nil {
            try? flush()
            try? state.checkpoint()
        }
        state.rollback()
        state.close()
        log.close()
        broken = "closed"
    }

    /// The head: height and id of the newest stored block (0 and `BlockID.none` at the genesis).
    public var head: ChainTip { ChainTip(height: state.appliedHeight, id: state.appliedBlockID) }

    /// Blocks up to this height are final: never reverted, no undo data kept.
    public var finalHeight: UInt64 { state.finalHeight }

    /// Validates `block` as the head's child and stores it (see `append(contentsOf:final:)`).
    public func append(_ block: Block, final: Bool = false) throws(ChainStoreError) {
        try append(contentsOf: [block], final: final)
    }

    /// Validates and stores `blocks`, each the child of the one before (the first, of the
    /// head). Their records are written and fsynced together before this returns: they
    /// are durable. Their state joins the open SQLite transaction, committed once
    /// `stateCommitBlocks`, `stateCommitTransactions` or `stateCommitMilliseconds` is
    /// reached (or by `flush`, `revert`, a snapshot, `close`); after a crash before that,
    /// recovery replays them from the log. With `final`, they (and everything below)
    /// become final and keep no undo data. If a block is rejected, the ones before it
    /// are still stored and `.rejected` names it.
    public func append(contentsOf blocks: [Block], final: Bool = false) throws(ChainStoreError) {
        try checkUsable()
        guard !blocks.isEmpty else { return }
        try beginIfNeeded()
        var parent = headHeader
        var accepted: [Block] = []
        var rejection: ChainStoreError?
        for block in blocks {
            do {
                try stageAndWrite(block, parent: parent, undo: !final)
            } catch {
                // A rejection comes before any write of its block; anything else may
                // have written part of one, so the whole open transaction is dropped.
                guard case .rejected = error else { throw abandon(error) }
                rejection = error
                break
            }
            accepted.append(block)
            parent = block.header
        }
        guard let last = accepted.last else { throw rejection! }
        let locations: [BlockLocation]
        do {
            locations = try log.append(accepted.map(LogRecord.block) + (final ? [.final(last.header.height)] : []))
        } catch {
            throw abandon(error)
        }
        crashPoint?(.blocksSynced)
        do {
            for (block, location) in zip(accepted, locations) {
                try state.recordApplied(height: block.header.height, id: block.id, location: location)
            }
            if final { try state.setFinal(last.header.height) }
        } catch {
            throw abandon(error)
        }
        headHeader = last.header
        uncommitted.blocks += accepted.count
        uncommitted.transactions += accepted.reduce(0) { $0 + $1.transactions.count }
        let age = SystemClock.monotonicNanoseconds() - uncommitted.since
        if uncommitted.blocks >= configuration.stateCommitBlocks
            || uncommitted.transactions >= configuration.stateCommitTransactions
            || age >= UInt64(configuration.stateCommitMilliseconds) * 1_000_000 {
            try flush()
        }
        let interval = max(1, configuration.snapshotInterval)
        if accepted.contains(where: { $0.header.height % interval == 0 }) { snapshotQuietly() }
        if let rejection { throw rejection }
    }

    /// Commits the state of the blocks appended since the last commit (they are in the
    /// log already). The daemon may call it when idle; `close` does.
    public func flush() throws(ChainStoreError) {
        if let broken { throw .needsReopen(broken) }
        guard state.connection.inTransaction else { return }
        do {
            try state.connection.execute("COMMIT")
        } catch {
            throw abandon(error)
        }
        uncommitted = (0, 0, 0)
        crashPoint?(.stateCommitted)
    }

    /// Opens the transaction appended blocks write into, unless one is open.
    private func beginIfNeeded() throws(ChainStoreError) {
        guard !state.connection.inTransaction else { return }
        try state.connection.execute("BEGIN IMMEDIATE")
        uncommitted = (0, 0, SystemClock.monotonicNanoseconds())
    }

    /// Rolls back the open transaction after `error`. If it held blocks that are in the
    /// log, memory no longer matches the committed state: the store needs a reopen
    /// (whose recovery replays them).
    private func abandon(_ error: ChainStoreError) -> ChainStoreError {
        state.rollback()
        guard uncommitted.blocks > 0 || state.appliedHeight != (headHeader?.height ?? 0) else { return error }
        broken = "state of blocks in the log was rolled back after: \(error)"
        return .needsReopen(broken!)
    }

    /// Validates `block` as the child of `parent` against the state as of the open
    /// transaction, and writes its changes (and undo rows) into that transaction.
    func stageAndWrite(_ block: Block, parent: BlockHeader?, undo: Bool,
                       verifier: ParallelVerifier? = nil) throws(ChainStoreError) {
        let height = block.header.height
        let expected = (parent?.height ?? 0) + 1
        guard height == expected else {
            throw .rejected(height: height, .notChild(reason: "height \(height) does not follow the head \(expected - 1)"))
        }
        if parent == nil, block.header.parent != .none {
            throw .rejected(height: height, .notChild(reason: "the first block's parent \(block.header.parent) is not none"))
        }
        let changes: StateChanges
        do {
            changes = try machine.stageBlock(block, on: state, parent: parent, verifier: verifier ?? self.verifier)
        } catch {
            if let failure = state.takeFailure() { throw failure }
            throw .rejected(height: height, error)
        }
        if let failure = state.takeFailure() { throw failure }
        try state.write(changes, undoHeight: undo && height > state.finalHeight ? height : nil)
    }

    /// Makes blocks up to `height` final: their undo data is deleted and they can never
    /// be reverted. A mark is appended to the log (made durable with the next append) so
    /// a replay from the log knows it too. Lower or equal heights are ignored.
    public func markFinal(_ height: UInt64) throws(ChainStoreError) {
        try checkUsable()
        guard height > state.finalHeight else { return }
        guard height <= head.height else {
            throw .invalidOperation("cannot make \(height) final: the head is \(head.height)")
        }
        try log.append([.final(height)], sync: false)
        try beginIfNeeded()
        do { try state.setFinal(height) } catch { throw abandon(error) }
        crashPoint?(.finalMarked)
    }

    /// Undoes the blocks above `height` (a fork switch): the state is restored from their
    /// undo rows and committed durably, then the log is cut after block `height`. A crash
    /// in between leaves the old blocks in the log, and recovery replays them.
    public func revert(to height: UInt64) throws(ChainStoreError) {
        try checkUsable()
        guard height >= state.finalHeight else {
            throw .invalidOperation("cannot revert to \(height): blocks up to \(state.finalHeight) are final")
        }
        guard height < head.height else { return }
        let cut: LogPosition
        if height == 0 {
            cut = log.start
        } else {
            guard let row = try state.indexed(height: height) else { throw .corrupt("block \(height) is not indexed") }
            cut = row.location.end
        }
        let newHead = height == 0 ? nil : try block(at: height)?.header
        try flush()
        try state.setFullSync(true)
        do {
            try state.transaction { () throws(ChainStoreError) in try state.undo(to: height) }
            try state.setFullSync(false)
        } catch {
            try? state.setFullSync(false)
            broken = "the revert to \(height) failed: \(error)"
            throw .needsReopen(broken!)
        }
        crashPoint?(.revertCommitted)
        headHeader = newHead
        do {
            try log.truncate(to: cut)
            if state.finalHeight > 0 { try log.append([.final(state.finalHeight)]) }
        } catch {
            broken = "the log could not be cut back to \(height) after the state was: \(error)"
            throw .needsReopen(broken!)
        }
        crashPoint?(.logTruncated)
    }

    /// The stored block at `height`; nil above the head (and for 0, the genesis).
    public func block(at height: UInt64) throws(ChainStoreError) -> Block? {
        guard height > 0, height <= head.height, let row = try state.indexed(height: height) else { return nil }
        let record = try log.read(row.location)
        guard record.kind == .block, record.height == height else {
            throw .corrupt("\(row.location.position) holds no block \(height)")
        }
        do {
            let block = try Block(decoding: record.payload)
            guard block.id == row.id else { throw ChainStoreError.corrupt("block \(height) is not \(row.id)") }
            return block
        } catch let error as ChainStoreError {
            throw error
        } catch {
            throw .corrupt("block \(height) at \(row.location.position): \(error)")
        }
    }

    /// The stored block with `id`, if any.
    public func block(id: BlockID) throws(ChainStoreError) -> Block? {
        guard let height = try height(of: id) else { return nil }
        return try block(at: height)
    }

    /// The height of the stored block `id`.
    public func height(of id: BlockID) throws(ChainStoreError) -> UInt64? {
        try state.indexedHeight(of: id)
    }

    /// Heights of the non-final blocks that keep undo data, ascending (for status
    /// output and tests; blocks that changed nothing have none).
    public func undoHeights() throws(ChainStoreError) -> [UInt64] { try state.undoHeights() }

    func checkUsable() throws(ChainStoreError) {
        if let broken { throw .needsReopen(broken) }
        if let failure = state.takeFailure() { throw failure }
    }
}
