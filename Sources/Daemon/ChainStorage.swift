import ChainStore
import Consensus
import Crypto
import Ledger
import Posix

/// The engine's final state: the ChainStore's SQLite state; or, while a restart replays
/// blocks the store already holds, an in-memory state rebuilt from the genesis (the
/// engine can only start at the genesis, and the store keeps no history of its state).
struct ChainFinalState: LedgerState {
    let memory: ReplayState?
    let store: SQLiteState

    func account(_ address: Address) -> Account? {
        if let memory { return memory.state.account(address) }
        return store.account(address)
    }

    func producer(_ address: Address) -> ProducerRegistration? {
        if let memory { return memory.state.producer(address) }
        return store.producer(address)
    }

    func votes(of voter: Address) -> [Address] {
        if let memory { return memory.state.votes(of: voter) }
        return store.votes(of: voter)
    }

    func asset(_ id: AssetID) -> AssetEntry? {
        if let memory { return memory.state.asset(id) }
        return store.asset(id)
    }

    func latestAsset(of station: Address) -> AssetID? {
        if let memory { return memory.state.latestAsset(of: station) }
        return store.latestAsset(of: station)
    }

    func billingPolicy(of station: Address) -> BillingPolicy? {
        if let memory { return memory.state.billingPolicy(of: station) }
        return store.billingPolicy(of: station)
    }

    func session(_ id: SessionID) -> Session? {
        if let memory { return memory.state.session(id) }
        return store.session(id)
    }

    func forEachAccount(_ body: (Address, Account) -> Void) {
        if let memory { memory.state.forEachAccount(body) } else { store.forEachAccount(body) }
    }

    func forEachProducer(_ body: (Address, ProducerRegistration) -> Void) {
        if let memory { memory.state.forEachProducer(body) } else { store.forEachProducer(body) }
    }

    func forEachVote(_ body: (Address, [Address]) -> Void) {
        if let memory { memory.state.forEachVote(body) } else { store.forEachVote(body) }
    }

    func forEachSession(_ body: (Session) -> Void) {
        if let memory { memory.state.forEachSession(body) } else { store.forEachSession(body) }
    }

    /// The final state moves only through `ChainStoreProvider.commitFinal`.
    mutating func commit(_ changes: StateChanges) {
        preconditionFailure("the chain's final state changes only through commitFinal")
    }
}

/// The in-memory state of a replay, shared by reference so committing a block does not
/// copy it.
final class ReplayState {
    var state: InMemoryLedgerState
    init(_ state: InMemoryLedgerState) { self.state = state }
}

/// Consensus's `StateProvider` over the ChainStore: final blocks are appended to the
/// store as final (`append(_:final: true)`, fsynced before `commitFinal` returns) and the
/// final state is the store's.
///
/// After a restart the engine replays the stored blocks from the genesis; until it has
/// made final the store's head again, the blocks it finalizes are checked against the
/// stored ones and their changes go to an in-memory state instead (the store has them).
final class ChainStoreProvider: StateProvider {
    let store: ChainStore
    private(set) var replay: ReplayState?

    /// A provider over `store`; at the genesis state if the store holds blocks.
    init(store: ChainStore, genesis: Genesis) {
        self.store = store
        replay = store.head.height > 0 ? ReplayState(InMemoryLedgerState(genesis: genesis)) : nil
    }

    var finalState: ChainFinalState { ChainFinalState(memory: replay, store: store.state) }

    /// Whether the engine is still behind the store's final blocks.
    var replaying: Bool { replay != nil }

    func commitFinal(_ block: Block, changes: StateChanges) throws {
        let height = block.header.height
        if let replay {
            guard try store.height(of: block.id) == height else {
                throw ChainNodeError("final block \(height) \(block.id) is not the block the store holds at that height")
            }
            replay.state.commit(changes)
            if height >= store.head.height { self.replay = nil }
            return
        }
        // After a `needsReopen` the block may already be stored.
        if store.head.id == block.id { return }
        try store.append(block, final: true)
    }
}

/// A failure of the chain node, in words for the log and the control socket.
struct ChainNodeError: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The safety record (`FileVotePersistence`), made durable by the node rather than inside
/// the engine: `persist` only keeps the record, and the node calls `flush` once the blocks
/// the record covers are stored (the block log and the pending-blocks file) and before any
/// vote or block is sent. So a crash can leave a stored block whose vote is not recorded
/// (harmless: the vote is signed again, identically, or not at all) but never a recorded
/// vote for a block that is gone, which would leave a single-station chain unable to
/// certify anything again (its lock would name a certificate no stored block carries).
final class DeferredVotePersistence: VotePersistence {
    let file: FileVotePersistence
    private(set) var unflushed: SafetyRecord?

    init(path: String) { file = FileVotePersistence(path: path) }

    func persist(lastVote: SafetyRecord) throws { unflushed = lastVote }

    func load() throws -> SafetyRecord? { try unflushed ?? file.load() }

    /// Writes the newest record durably (file and directory fsynced); nothing to do when
    /// there is no new one. On failure the record stays pending for the next call.
    func flush() throws {
        guard let record = unflushed else { return }
        try file.persist(lastVote: record)
        unflushed = nil
    }
}

/// The blocks above the last final one, which the store does not hold yet, in one small
/// file rewritten (and fdatasynced) whenever they change, so a restart comes back to the
/// same head: `"qlink/pending/v1"` ‖ count (u32) ‖ each block (u32 length, encoding) ‖
/// BLAKE2b-256 of everything before. A torn or damaged file reads as no blocks, and says so.
struct PendingBlocksFile {
    static let magic = Array("qlink/pending/v1".utf8)
    let path: String

    func write(_ blocks: [Block]) throws(SystemError) {
        var writer = BinaryWriter(capacity: 64 + blocks.reduce(0) { $0 + 4 + $1.encoded.count })
        writer.raw(Self.magic)
        writer.u32(UInt32(blocks.count))
        for block in blocks { writer.variable(block.encoded, prefix: .u32) }
        var bytes = writer.bytes
        bytes += Hash.blake2b(bytes, length: 32)
        let existed = FileSystem.exists(path)
        let fd = try FileDescriptor.open(path, [.writeOnly, .create, .truncate], mode: 0o640)
        defer { fd.close() }
        do {
            try fd.writeAll(bytes)
            try fd.dataSync()
        } catch {
            throw SystemError(error.errno, "write \(path)")
        }
        if !existed { try FileSystem.syncDirectory(FileSystem.parent(of: path)) }
    }

    /// The blocks, or none and why.
    func read() -> (blocks: [Block], problem: String?) {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch {
            return ([], error.errno == .noEntry ? nil : "\(error)")
        }
        guard bytes.count >= Self.magic.count + 4 + 32, bytes.starts(with: Self.magic) else {
            return ([], "\(path): no header (torn write?)")
        }
        let body = Array(bytes[..<(bytes.count - 32)])
        guard Hash.blake2b(body, length: 32) == Array(bytes[(bytes.count - 32)...]) else {
            return ([], "\(path): checksum mismatch (torn write?)")
        }
        var reader = BinaryReader(Array(body[Self.magic.count...]))
        do throws(DecodeError) {
            let count = try reader.u32("count")
            var blocks: [Block] = []
            for _ in 0..<count {
                blocks.append(try Block(decoding: try reader.variable("block", 1...Limits.maxBlockBytes, prefix: .u32)))
            }
            try reader.finish()
            return (blocks, nil)
        } catch {
            return ([], "\(path): \(error)")
        }
    }
}
