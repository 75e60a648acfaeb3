import ChainTestSupport
import ChainStore
import Crypto
import Ledger
import Posix
import Testing

struct StoringBlocks {
    @Test func appendedBlocksSurviveAReopenWithTheSameState() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 1)
        let blocks = builder.blocks(40)
        do {
            let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
            #expect(store.recovery.createdState)
            #expect(store.head == ChainTip(height: 0, id: .none))
            for block in blocks.prefix(30) { try store.append(block) }
            try store.append(contentsOf: Array(blocks.suffix(10)))
            try store.markFinal(25)
            #expect(StateDump(store.state) == StateDump(builder.state))
            store.close()
        }
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        defer { store.close() }
        #expect(store.recovery.isClean && store.recovery.replayedBlocks == 0, "\(store.recovery)")
        #expect(store.head == ChainTip(height: 40, id: blocks[39].id))
        #expect(store.headHeader == blocks[39].header)
        #expect(store.finalHeight == 25)
        #expect(try store.block(at: 17) == blocks[16])
        #expect(try store.block(id: blocks[3].id) == blocks[3])
        #expect(try store.height(of: blocks[38].id) == 39)
        #expect(try store.block(at: 41) == nil)
        #expect(try store.block(at: 0) == nil)
        #expect(StateDump(store.state) == StateDump(builder.state))
        #expect(store.state.heldSupply() == Amount.totalSupply)
    }

    @Test func everyKindOfStateRoundTripsThroughSQLite() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 2)
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        defer { store.close() }
        for block in builder.blocks(80, transactions: 8) { try store.append(block) }
        let dump = StateDump(store.state)
        #expect(dump == StateDump(builder.state))
        #expect(!dump.votes.isEmpty && !dump.assets.isEmpty && !dump.policies.isEmpty && dump.producers.count > 1, "\(dump)")
        #expect(builder.state.sessions.values.contains { $0.settledBytes > 0 && $0.lastActivity > $0.openedAt })
        for (address, account) in builder.state.accounts { #expect(store.state.account(address) == account) }
        for (id, session) in builder.state.sessions { #expect(store.state.session(id) == session) }
        for (station, id) in builder.state.latestAssets {
            #expect(store.state.latestAsset(of: station) == id)
            #expect(store.state.asset(id) == builder.state.assets[id])
        }
        #expect(store.state.accountCount == builder.state.accounts.count)
    }

    @Test func aRejectedBlockChangesNothingAndABatchKeepsItsValidPrefix() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 3)
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        defer { store.close() }
        let first = builder.blocks(5)
        try store.append(contentsOf: first)
        let before = StateDump(store.state)
        var fork = builder
        let next = builder.next()
        _ = fork.next()
        let stranger = testKey(77)
        let forged = try Block.assemble(header: next.header, transactions: next.transactions, signer: stranger)
        #expect(throws: ChainStoreError.self) { try store.append(forged) }
        #expect(throws: ChainStoreError.self) { try store.append(first[2]) }
        #expect(StateDump(store.state) == before && store.head.height == 5)

        let more = [next] + builder.blocks(2)
        var rejected: ChainStoreError?
        do { try store.append(contentsOf: [more[0], more[1], forged, more[2]]) } catch { rejected = error }
        guard case let .rejected(height, _) = rejected else {
            Issue.record("expected a rejection, got \(String(describing: rejected))")
            return
        }
        #expect(height == 6)
        #expect(store.head.height == 7, "the two valid blocks before the forged one are stored")
        try store.append(more[2])
        #expect(StateDump(store.state) == StateDump(builder.state))
    }

    @Test func aStoreRefusesAnotherChainsGenesis() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis).close()
        let other = try Genesis(chainName: "other", timestampMs: 0, parameters: .standard,
                                allocations: [GenesisAllocation(address: testKey(1).address, amount: .totalSupply)],
                                producers: ChainBuilder.genesis.producers)
        #expect {
            try ChainStore(directory: directory.path, genesis: other)
        } throws: { error in
            if case .wrongChain = error as? ChainStoreError { return true }
            return false
        }
    }
}

struct ForksAndFinality {
    @Test func revertUndoesBlocksAndAForkCanBeAppended() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 4)
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        let common = builder.blocks(10)
        var fork = builder
        fork.random = SeededGenerator(seed: 400)
        let original = builder.blocks(6)
        try store.append(contentsOf: common)
        try store.markFinal(8)
        try store.append(contentsOf: original)
        #expect(throws: ChainStoreError.self) { try store.revert(to: 7) }

        try store.revert(to: 10)
        #expect(store.head == ChainTip(height: 10, id: common[9].id))
        #expect(try StateDump(store.state) == StateDump(replayReference(store)))
        let branch = fork.blocks(4)
        try store.append(contentsOf: branch)
        #expect(StateDump(store.state) == StateDump(fork.state))
        #expect(try store.block(at: 14) == branch[3])
        #expect(try store.height(of: original[0].id) == nil)
        store.close()

        let reopened = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        defer { reopened.close() }
        #expect(reopened.recovery.isClean, "\(reopened.recovery)")
        #expect(reopened.head.id == branch[3].id)
        #expect(StateDump(reopened.state) == StateDump(fork.state))
    }

    @Test func finalBlocksKeepNoUndoData() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 5)
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        defer { store.close() }
        try store.append(contentsOf: builder.blocks(6), final: true)
        #expect(store.finalHeight == 6)
        try store.append(contentsOf: builder.blocks(6))
        #expect(try store.undoHeights() == Array(7...12))
        try store.markFinal(10)
        #expect(try store.undoHeights() == [11, 12])
        #expect(throws: ChainStoreError.self) { try store.markFinal(13) }
        try store.revert(to: 10)
        #expect(try store.undoHeights() == [])
        #expect(throws: ChainStoreError.self) { try store.revert(to: 9) }
    }

    @Test func theLogAloneRebuildsTheStateWithItsFinality() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 6)
        do {
            let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
            try store.append(contentsOf: builder.blocks(20))
            try store.markFinal(15)
            try store.append(contentsOf: builder.blocks(3))
            store.close()
        }
        for name in ["state.db", "state.db-wal", "state.db-shm"] { FileSystem.remove("\(directory.path)/\(name)") }
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        defer { store.close() }
        #expect(store.recovery.createdState && store.recovery.replayedBlocks == 23, "\(store.recovery)")
        #expect(store.finalHeight == 15)
        #expect(try store.undoHeights() == Array(16...23))
        #expect(StateDump(store.state) == StateDump(builder.state))
        try store.revert(to: 15)
        #expect(try StateDump(store.state) == StateDump(replayReference(store)))
    }
}

struct StandaloneState {
    @Test func theProtocolsCommitAppliesWhatTheStateMachineStages() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 7)
        var state = try SQLiteState.open(path: "\(directory.path)/state.db", genesis: ChainBuilder.genesis)
        #expect(StateDump(state) == StateDump(InMemoryLedgerState(genesis: ChainBuilder.genesis)))
        var parent: BlockHeader?
        for block in builder.blocks(25, transactions: 8) {
            try builder.machine.applyBlock(block, to: &state, parent: parent)
            parent = block.header
        }
        #expect(state.failure == nil)
        #expect(StateDump(state) == StateDump(builder.state))
        #expect(state.appliedHeight == 0, "a bare commit records no block")
        state.close()
        let reopened = try SQLiteState.open(path: "\(directory.path)/state.db", genesis: ChainBuilder.genesis)
        defer { reopened.close() }
        #expect(StateDump(reopened) == StateDump(builder.state))
    }
}
