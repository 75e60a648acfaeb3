import Crypto
import Ledger
import Posix
import Synchronization

/// What a producer must remember across restarts so it never contradicts itself: its
/// last vote, its lock, and the last slot it produced in.
///
/// Encoding: presence byte + `BlockVote` ‖ lockedHeight (u64) ‖ producedSlot (u64).
public struct SafetyRecord: Hashable, Sendable, CanonicalCodable {
    /// The newest vote this producer signed (nil: none yet).
    public var lastVote: BlockVote?
    /// The lock: the height of the block certified by the `justify` of the last block it
    /// voted for (0 for none or the genesis). It only grows.
    public var lockedHeight: UInt64
    /// The last slot it produced a block in (0: none).
    public var producedSlot: UInt64

    /// A record; the default is a producer that never voted or produced.
    public init(lastVote: BlockVote? = nil, lockedHeight: UInt64 = 0, producedSlot: UInt64 = 0) {
        self.lastVote = lastVote
        self.lockedHeight = lockedHeight
        self.producedSlot = producedSlot
    }

    /// The height of the last vote (0: none).
    public var votedHeight: UInt64 { lastVote?.height ?? 0 }

    public func encode(to writer: inout BinaryWriter) {
        writer.optional(lastVote) { $1.encode(to: &$0) }
        writer.u64(lockedHeight)
        writer.u64(producedSlot)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        lastVote = try reader.optional("lastVote") { reader throws(DecodeError) in try BlockVote(from: &reader) }
        lockedHeight = try reader.u64("lockedHeight")
        producedSlot = try reader.u64("producedSlot")
    }
}

/// Where a producer's `SafetyRecord` survives crashes. `persist` returns only once the
/// record is durable; the engine calls it before it hands out the vote (or block) the
/// record covers, and sends nothing if it throws.
public protocol VotePersistence: AnyObject {
    /// Makes `lastVote` durable, replacing the previous record.
    func persist(lastVote: SafetyRecord) throws
    /// The last record persisted; nil if there never was one.
    func load() throws -> SafetyRecord?
}

/// A record in memory: for tests and for nodes that do not produce. The object plays
/// the disk: a test keeps it across a simulated crash and builds the next engine on it.
public final class InMemoryVotePersistence: VotePersistence, Sendable {
    private let stored: Mutex<(record: SafetyRecord?, writes: Int, failing: Bool)>

    /// A "disk" holding `record` (nil: empty).
    public init(_ record: SafetyRecord? = nil) { stored = Mutex((record, 0, false)) }

    /// Makes every `persist` throw (a full or failing disk) until set back.
    public var failing: Bool {
        get { stored.withLock { $0.failing } }
        set { stored.withLock { $0.failing = newValue } }
    }

    /// How many records were persisted.
    public var writes: Int { stored.withLock { $0.writes } }

    /// The durable record.
    public var record: SafetyRecord? { stored.withLock { $0.record } }

    public func persist(lastVote: SafetyRecord) throws {
        try stored.withLock { state in
            guard !state.failing else { throw VotePersistenceError.io("in-memory persistence set to fail") }
            state.record = lastVote
            state.writes += 1
        }
    }

    public func load() throws -> SafetyRecord? { record }
}

/// Why a safety record could not be written or read back.
public enum VotePersistenceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A system call failed (the text names it and the path).
    case io(String)
    /// The file exists but is not a whole, checksummed record: never vote from it.
    case corrupt(path: String, reason: String)

    public var description: String {
        switch self {
        case let .io(message): "safety record: \(message)"
        case let .corrupt(path, reason): "safety record \(path): corrupt (\(reason))"
        }
    }
}

/// The record in a small file, replaced atomically and fsynced (file and directory,
/// through `FileSystem.writeDurably`) before `persist` returns.
///
/// File: `"qlink/safety/v1"` ‖ record encoding ‖ BLAKE2b-256 of everything before it.
/// A file that fails the checksum or the decoder makes `load` throw: the producer must
/// not guess what it voted.
public final class FileVotePersistence: VotePersistence, Sendable {
    static let magic = Array("qlink/safety/v1".utf8)
    /// The record's file; its directory must exist.
    public let path: String

    /// Persistence in the file at `path`.
    public init(path: String) { self.path = path }

    public func persist(lastVote: SafetyRecord) throws {
        var bytes = Self.magic + lastVote.canonicalEncoding
        bytes += Hash.blake2b(bytes, length: 32)
        do {
            try FileSystem.writeDurably(path, bytes, mode: 0o600)
        } catch {
            throw VotePersistenceError.io(error.description)
        }
    }

    public func load() throws -> SafetyRecord? {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path)
        } catch where error.errno == .noEntry {
            return nil
        } catch {
            throw VotePersistenceError.io(error.description)
        }
        guard bytes.count >= Self.magic.count + 32, bytes.starts(with: Self.magic) else {
            throw VotePersistenceError.corrupt(path: path, reason: "no header")
        }
        let body = Array(bytes[..<(bytes.count - 32)])
        guard Hash.blake2b(body, length: 32) == Array(bytes[(bytes.count - 32)...]) else {
            throw VotePersistenceError.corrupt(path: path, reason: "checksum mismatch")
        }
        do {
            return try SafetyRecord(canonical: Array(body[Self.magic.count...]), root: "record")
        } catch {
            throw VotePersistenceError.corrupt(path: path, reason: error.description)
        }
    }
}

/// The voting rules of one producer (its "safety rules"):
///
/// 1. vote only for a block higher than every block it voted for before (so never twice
///    at one height);
/// 2. vote only for a block whose `justify` certifies a height ≥ its lock, and then lock
///    on that height;
/// 3. produce at most one block per slot, and only in a slot after the last it produced in;
/// 4. persist the new record before the vote or block leaves: if `persist` throws,
///    nothing changes and nothing is sent.
public struct SafetyRules: Sendable {
    /// The current record: what was last persisted.
    public private(set) var record: SafetyRecord

    /// Rules continuing from `record` (loaded at start).
    public init(record: SafetyRecord = SafetyRecord()) { self.record = record }

    /// Whether rules 1 and 2 allow a vote for a block at `height` whose `justify`
    /// certifies `justifyHeight` (0 for none).
    public func allowsVote(height: UInt64, justifyHeight: UInt64) -> Bool {
        height > record.votedHeight && justifyHeight >= record.lockedHeight
    }

    /// Whether rule 3 allows producing in `slot`.
    public func allowsProduction(slot: UInt64) -> Bool { slot > record.producedSlot }

    /// Persists, then adopts, the record after `vote` (for a block whose `justify`
    /// certifies `justifyHeight`) and/or a block produced in `producedSlot`. Throws
    /// `SafetyViolation` if the rules forbid either, and whatever `persist` throws;
    /// either way the record is unchanged.
    public mutating func record(vote: BlockVote?, justifyHeight: UInt64 = 0, producedSlot: UInt64? = nil,
                                to persistence: any VotePersistence) throws {
        var next = record
        if let vote {
            guard allowsVote(height: vote.height, justifyHeight: justifyHeight) else {
                throw SafetyViolation.vote(height: vote.height, justifyHeight: justifyHeight, record: record)
            }
            next.lastVote = vote
            next.lockedHeight = justifyHeight
        }
        if let producedSlot {
            guard allowsProduction(slot: producedSlot) else { throw SafetyViolation.production(slot: producedSlot, record: record) }
            next.producedSlot = producedSlot
        }
        try persistence.persist(lastVote: next)
        record = next
    }
}

/// A vote or block the safety rules forbid.
public enum SafetyViolation: Error, Hashable, Sendable, CustomStringConvertible {
    case vote(height: UInt64, justifyHeight: UInt64, record: SafetyRecord)
    case production(slot: UInt64, record: SafetyRecord)

    public var description: String {
        switch self {
        case let .vote(height, justifyHeight, record):
            "vote at height \(height) (justify \(justifyHeight)) after voting at \(record.votedHeight), locked at \(record.lockedHeight)"
        case let .production(slot, record): "block in slot \(slot) after producing in slot \(record.producedSlot)"
        }
    }
}
