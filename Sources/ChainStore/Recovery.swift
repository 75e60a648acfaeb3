import Ledger
import Posix

/// Opening: bring the state to exactly the replay of the stored blocks.
///
/// 1. Open `state.db`; if it is missing, damaged, or holds blocks the log lost beyond
///    what its undo data can take back, fall back to the newest usable snapshot, then
///    to a fresh genesis state. Every fallback is reported.
/// 2. Reconcile: while the state's head block is not in the log (a state from another
///    branch, or ahead of a log cut by hand), undo it (`revertedBlocks`).
/// 3. Scan the log from the state's head to the end; cut a torn or damaged tail back to
///    the last whole record (`truncatedLogBytes`). Damage before the last segment is
///    not a crash's doing and is thrown as `corrupt`, never cut.
/// 4. Replay the blocks after the state's head with full validation, a batch of blocks
///    per transaction, with undo rows only for blocks above the newest finality mark.
extension ChainStore {
    static func openState(directory: String, genesis: Genesis, configuration: Configuration, log: BlockLog,
                          report: inout RecoveryReport) throws(ChainStoreError) -> SQLiteState {
        let path = statePath(directory)
        FileSystem.remove(path + ".tmp")
        var sources: [UInt64?] = FileSystem.exists(path) ? [nil] : []
        sources += snapshotHeights(directory).reversed().map { Optional($0) }
        for source in sources {
            if let height = source {
                try restoreSnapshot(directory, height: height)
                report.restoredSnapshot = height
            }
            do {
                let (state, created) = try SQLiteState.openOrCreate(path: path, genesis: genesis, options: configuration.database)
                if try reconcile(state, log: log, report: &report) {
                    report.createdState = created
                    return state
                }
                state.close()
                report.discardedState = discardState(directory) + " (it holds final blocks the log does not)"
            } catch {
                guard case let .sqlite(code, _, _) = error, SQLiteConnection.isCorruption(code) else { throw error }
                report.discardedState = discardState(directory) + " (\(error))"
            }
            report.revertedBlocks = 0
        }
        report.restoredSnapshot = nil
        FileSystem.remove(path + "-wal")
        FileSystem.remove(path + "-shm")
        let (state, _) = try SQLiteState.openOrCreate(path: path, genesis: genesis, options: configuration.database)
        report.createdState = true
        return state
    }

    /// Undoes the state's head while its block is not in the log. False if that would
    /// need to undo a final block (the state cannot be brought back to the log).
    static func reconcile(_ state: SQLiteState, log: BlockLog, report: inout RecoveryReport) throws(ChainStoreError) -> Bool {
        report.stateHeightAtOpen = state.appliedHeight
        while state.appliedHeight > 0 {
            let height = state.appliedHeight
            guard let row = try state.indexed(height: height) else { throw .corrupt("\(state.path): block \(height) is not indexed") }
            if logHolds(log, height: height, id: row.id, at: row.location) { return true }
            guard height > state.finalHeight else { return false }
            try state.transaction { () throws(ChainStoreError) in try state.undo(to: height - 1) }
            report.revertedBlocks += 1
        }
        return true
    }

    private static func logHolds(_ log: BlockLog, height: UInt64, id: BlockID, at location: BlockLocation) -> Bool {
        guard let record = try? log.read(location), record.kind == .block, record.height == height else { return false }
        var reader = BinaryReader(record.payload)
        guard let header = try? BlockHeader(from: &reader) else { return false }
        return header.id == id
    }

    /// Steps 3 and 4: scan and cut the tail, then replay.
    func recover() throws(ChainStoreError) {
        let applied = state.appliedHeight
        let start: LogPosition
        if applied == 0 {
            start = log.start
        } else {
            guard let row = try state.indexed(height: applied) else { throw .corrupt("block \(applied) is not indexed") }
            start = row.location.end
            headHeader = try block(at: applied)?.header
        }
        var scan = LogCursor(log: log, position: start, previousBlock: applied)
        var lastMark: UInt64 = 0
        var blocksAhead: UInt64 = 0
        scanning: while true {
            switch try scan.next() {
            case let .record(record, _):
                if record.kind == .final { lastMark = max(lastMark, record.height) } else { blocksAhead += 1 }
            case .end:
                break scanning
            case let .damaged(position, reason):
                guard position.segment == log.segments.last else {
                    throw .corrupt("block log \(position): \(reason), before the last segment")
                }
                report(cut: try log.truncate(to: position), at: "\(position) (\(reason))")
                break scanning
            }
        }
        let final = max(state.finalHeight, min(lastMark, applied + blocksAhead))
        guard blocksAhead > 0 || final > state.finalHeight else { return }
        try replay(from: start, final: final)
    }

    private func report(cut bytes: Int64, at position: String) {
        recovery.truncatedLogBytes += bytes
        recovery.truncatedAt = position
    }
}
