import Dispatch
import Ledger

/// Replaying the log into the state (recovery's step 4), as a two-stage pipeline: while
/// this thread applies one window of blocks to SQLite (staging, the producer signature,
/// writes), the transaction signatures of the next window are verified on every core
/// into the replay's signature cache, so staging finds them vouched for. Validation is
/// the same as `append`'s; only the order of the work changes.
extension ChainStore {
    /// Blocks read ahead per window, and the transactions a window may hold.
    static let replayWindowBlocks = 64
    static let replayWindowTransactions = 2048
    /// SQLite's page cache during a replay, KiB, and its WAL pages between checkpoints.
    static let replayCacheKilobytes = 32768
    static let replayCheckpointPages = 16384

    /// A window of decoded blocks and where each lies.
    private typealias Window = [(block: Block, location: BlockLocation)]

    /// Applies every block after the state's head, validating each against the state
    /// (signatures, nonces, funds, links), committing every `replayBatchBlocks` blocks
    /// and at each snapshot height (then snapshotting). Blocks at or below `final` keep
    /// no undo rows, and the final height advances with them in the same transactions.
    func replay(from start: LogPosition, final: UInt64) throws(ChainStoreError) {
        var cursor = LogCursor(log: log, position: start, previousBlock: state.appliedHeight)
        let verifier = ParallelVerifier(cache: SignatureCache(capacity: 4 * Self.replayWindowTransactions + 64))
        var parent = headHeader
        let interval = max(1, configuration.snapshotInterval)
        var batched = 0
        // A long replay reads the whole state again and again and commits often: give
        // it a larger page cache and fewer checkpoints (each costs two fsyncs) while it
        // runs, then the configured bounds again. RSS stays far below the budget.
        let options = configuration.database
        try state.connection.execute("""
            PRAGMA cache_size = -\(max(Self.replayCacheKilobytes, options.cacheKilobytes));
            PRAGMA wal_autocheckpoint = \(max(Self.replayCheckpointPages, options.walAutocheckpointPages));
            """)
        defer {
            try? state.connection.execute("""
                PRAGMA cache_size = -\(max(256, options.cacheKilobytes));
                PRAGMA wal_autocheckpoint = \(max(16, options.walAutocheckpointPages));
                """)
        }
        try state.connection.execute("BEGIN IMMEDIATE")
        do throws(ChainStoreError) {
            var window = try readWindow(&cursor)
            var verified = verifyInBackground(window, verifier)
            while !window.isEmpty {
                let next = try readWindow(&cursor)
                verified.wait()
                verified = verifyInBackground(next, verifier)
                for (block, location) in window {
                    let height = block.header.height
                    do {
                        try stageAndWrite(block, parent: parent, undo: height > final, verifier: verifier)
                    } catch {
                        guard case let .rejected(_, reason) = error else { throw error }
                        throw ChainStoreError.corrupt("stored block \(height) does not apply: \(reason)")
                    }
                    try state.recordApplied(height: height, id: block.id, location: location)
                    parent = block.header
                    recovery.replayedBlocks += 1
                    batched += 1
                    guard batched >= configuration.replayBatchBlocks || height % interval == 0 else { continue }
                    try state.setFinal(min(final, height))
                    try state.connection.execute("COMMIT")
                    crashPoint?(.replayCommitted)
                    batched = 0
                    headHeader = parent
                    if height % interval == 0 { snapshotQuietly() }
                    try state.connection.execute("BEGIN IMMEDIATE")
                }
                window = next
            }
            verified.wait()
            try state.setFinal(min(final, state.appliedHeight))
            try state.connection.execute("COMMIT")
            crashPoint?(.replayCommitted)
        } catch {
            state.rollback()
            headHeader = state.appliedHeight == 0 ? nil : try? block(at: state.appliedHeight)?.header
            throw error
        }
        headHeader = parent
    }

    /// The next blocks from the cursor, decoded: up to `replayWindowBlocks` of them or
    /// `replayWindowTransactions` transactions (at least one block). Marks are skipped
    /// (the caller has already taken the final height from the scan).
    private func readWindow(_ cursor: inout LogCursor) throws(ChainStoreError) -> Window {
        var window: Window = []
        var transactions = 0
        while window.count < Self.replayWindowBlocks && transactions < Self.replayWindowTransactions {
            let step = try cursor.next()
            guard case let .record(record, location) = step else {
                if case let .damaged(position, reason) = step { throw .corrupt("block log \(position): \(reason)") }
                break
            }
            guard record.kind == .block else { continue }
            do {
                let block = try Block(decoding: record.payload)
                window.append((block, location))
                transactions += block.transactions.count
            } catch {
                throw .corrupt("block log \(location.position): block \(record.height): \(error)")
            }
        }
        return window
    }

    /// Starts verifying the transaction signatures of `window` on the global queue; the
    /// result only fills `verifier`'s cache (an invalid signature is found again, and
    /// reported, when its block is staged).
    private func verifyInBackground(_ window: Window, _ verifier: ParallelVerifier) -> DispatchGroup {
        let group = DispatchGroup()
        let transactions = window.flatMap(\.block.transactions)
        guard !transactions.isEmpty else { return group }
        DispatchQueue.global().async(group: group) { _ = verifier.verify(transactions) }
        return group
    }
}
