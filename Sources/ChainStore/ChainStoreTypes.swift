import Ledger
import Posix

/// Why a ChainStore operation failed. Every public function of the module throws this.
public enum ChainStoreError: Error, Sendable, CustomStringConvertible {
    /// The block at `height` was rejected by the state machine; nothing of it was stored.
    case rejected(height: UInt64, BlockRejection)
    /// A system call failed (a path or operation is named).
    case system(SystemError)
    /// SQLite returned `code` (an extended result code) while doing `context`.
    case sqlite(code: Int32, message: String, context: String)
    /// Stored data is damaged in a way recovery must not guess about (`what` says where).
    case corrupt(String)
    /// The store belongs to another chain.
    case wrongChain(expected: ChainID, found: ChainID)
    /// The call is not allowed in the store's current state (e.g. reverting a final block).
    case invalidOperation(String)
    /// An earlier failure left memory and disk possibly apart: reopen the store, whose
    /// recovery reconciles them.
    case needsReopen(String)

    /// One line for the log.
    public var description: String {
        switch self {
        case let .rejected(height, reason): "block \(height) rejected: \(reason)"
        case let .system(error): error.description
        case let .sqlite(code, message, context): "sqlite \(context): \(message) (code \(code))"
        case let .corrupt(what): "corrupt store: \(what)"
        case let .wrongChain(expected, found): "the store holds chain \(found), not \(expected)"
        case let .invalidOperation(reason): reason
        case let .needsReopen(reason): "store must be reopened: \(reason)"
        }
    }
}

/// What `ChainStore.open` found and repaired. Every repair is reported here, never done
/// silently; the daemon logs `description` at notice level when `isClean` is false.
public struct RecoveryReport: Sendable, CustomStringConvertible {
    /// Bytes cut from the end of the block log (a record torn by a crash), and where.
    public internal(set) var truncatedLogBytes: Int64 = 0
    /// `<segment>:<offset> (<reason>)` of the cut.
    public internal(set) var truncatedAt: String?
    /// The height the state database had applied when it was opened (after a snapshot
    /// restore, the snapshot's).
    public internal(set) var stateHeightAtOpen: UInt64 = 0
    /// Blocks replayed from the log into the state.
    public internal(set) var replayedBlocks: Int = 0
    /// Blocks the state had applied beyond the log (or on another branch), undone.
    public internal(set) var revertedBlocks: Int = 0
    /// The snapshot height the state was restored from, if the state database was
    /// missing or unreadable.
    public internal(set) var restoredSnapshot: UInt64?
    /// The state database was created anew (from the genesis).
    public internal(set) var createdState = false
    /// A damaged state database moved aside, if any.
    public internal(set) var discardedState: String?

    /// Nothing repaired yet.
    public init() {}

    /// Nothing had to be repaired (blocks may still have been replayed after a clean
    /// shutdown that left the state behind).
    public var isClean: Bool {
        truncatedLogBytes == 0 && revertedBlocks == 0 && restoredSnapshot == nil && discardedState == nil
    }

    /// One line for the daemon's log.
    public var description: String {
        var parts: [String] = ["state at \(stateHeightAtOpen)"]
        if createdState { parts.append("state created from the genesis") }
        if let discardedState { parts.append("damaged state moved to \(discardedState)") }
        if let restoredSnapshot { parts.append("restored snapshot \(restoredSnapshot)") }
        if truncatedLogBytes > 0 { parts.append("cut \(truncatedLogBytes) torn bytes at \(truncatedAt ?? "?")") }
        if revertedBlocks > 0 { parts.append("undid \(revertedBlocks) blocks not in the log") }
        if replayedBlocks > 0 { parts.append("replayed \(replayedBlocks) blocks") }
        return parts.joined(separator: "; ")
    }
}

/// A block's height and id.
public struct ChainTip: Hashable, Sendable, CustomStringConvertible {
    /// 0 for the genesis.
    public var height: UInt64
    /// `BlockID.none` for the genesis.
    public var id: BlockID

    /// A tip at `height` with `id`.
    public init(height: UInt64, id: BlockID) {
        self.height = height
        self.id = id
    }

    /// `<height> <id>`.
    public var description: String { "\(height) \(id)" }
}

extension ChainStore {
    /// Where the pieces live and how they are tuned.
    public struct Configuration: Sendable {
        /// A snapshot of the state is taken after every block whose height is a multiple.
        public var snapshotInterval: UInt64 = 10_000
        /// Snapshots kept (oldest deleted first).
        public var snapshotsKept: Int = 2
        /// A new log segment starts once the current one would pass this size.
        public var segmentBytes: Int64 = 64 << 20
        /// Blocks replayed per SQLite transaction during recovery.
        public var replayBatchBlocks: Int = 64
        /// Appended blocks share one state transaction until one of these is reached
        /// (their records are fsynced at once; only the state commit is grouped).
        /// Fewer commits write far fewer SQLite pages (the chain row, index and undo
        /// pages, hot accounts): flash wear. A crash replays at most this many blocks.
        public var stateCommitBlocks: Int = 32
        /// Transactions in the open state transaction that make it commit.
        public var stateCommitTransactions: Int = 2048
        /// Age of the open state transaction that makes the next append commit it.
        public var stateCommitMilliseconds: Int = 30_000
        /// SQLite tuning.
        public var database = StateDatabaseOptions()

        /// The defaults above.
        public init() {}
    }
}

/// Steps of a write where a test stops to copy the files, as a crash there would leave them.
enum CrashPoint: Sendable {
    case blocksSynced, stateCommitted, finalMarked, revertCommitted, logTruncated, replayCommitted
}
