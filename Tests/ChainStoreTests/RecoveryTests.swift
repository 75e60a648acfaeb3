import ChainTestSupport
import ChainStore
import Crypto
import Ledger
import Posix
import Testing

struct Snapshots {
    @Test func takenEveryIntervalTheLastTwoKeptAndUsedWhenTheStateIsGone() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 21)
        let configuration = testConfiguration(snapshotInterval: 5)
        do {
            let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: configuration)
            for block in builder.blocks(23) { try store.append(block) }
            #expect(store.snapshotHeights == [15, 20])
            #expect(store.snapshotFailure == nil)
            store.close()
        }
        for name in ["state.db", "state.db-wal", "state.db-shm"] { FileSystem.remove("\(directory.path)/\(name)") }
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: configuration)
        defer { store.close() }
        #expect(store.recovery.restoredSnapshot == 20 && store.recovery.replayedBlocks == 3, "\(store.recovery)")
        #expect(store.head.height == 23)
        #expect(StateDump(store.state) == StateDump(builder.state))
    }

    @Test func aDamagedStateDatabaseIsSetAsideAndRebuilt() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 22)
        let configuration = testConfiguration(snapshotInterval: 8)
        do {
            let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: configuration)
            try store.append(contentsOf: builder.blocks(12))
            store.close()
        }
        try writeFile("\(directory.path)/state.db", [UInt8](repeating: 0x5A, count: 8192))
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: configuration)
        defer { store.close() }
        #expect(store.recovery.discardedState != nil && !store.recovery.isClean, "\(store.recovery)")
        #expect(store.recovery.restoredSnapshot == 12, "\(store.recovery)")
        #expect(FileSystem.exists("\(directory.path)/state.db.discarded"))
        #expect(StateDump(store.state) == StateDump(builder.state))
    }
}

struct LogRecovery {
    @Test func tornTailsAreCutBackToTheLastWholeRecordAndReported() throws {
        let root = TemporaryDirectory()
        defer { root.remove() }
        var builder = ChainBuilder(seed: 23)
        let configuration = testConfiguration(segmentBytes: 6000)
        let original = "\(root.path)/original"
        let blocks = builder.blocks(14)
        do {
            let store = try ChainStore(directory: original, genesis: ChainBuilder.genesis, configuration: configuration)
            for block in blocks { try store.append(block) }
            store.close()
        }
        let segments = try segmentPaths(original)
        #expect(segments.count > 2, "blocks roll over into new segments")
        var random = SeededGenerator(seed: 24)
        for trial in 0..<12 {
            let copy = "\(root.path)/trial-\(trial)"
            try copyTree("\(original)/blocks", "\(copy)/blocks")
            let last = try segmentPaths(copy).last!
            let size = fileSize(last)
            let cut = trial == 0 ? size - 1 : Int(random.next() % UInt64(size))
            try truncateFile(last, to: cut)
            let store = try ChainStore(directory: copy, genesis: ChainBuilder.genesis, configuration: configuration)
            let head = store.head.height
            #expect(head < 14 && head >= 14 - 3, "trial \(trial): \(store.recovery)")
            #expect(try store.block(at: head) == blocks[Int(head) - 1])
            #expect(store.recovery.truncatedLogBytes == Int64(cut - fileSize(last)), "trial \(trial): \(store.recovery)")
            #expect(StateDump(store.state) == StateDump(try replayReference(store)))
            // Appending continues from the cut.
            try store.append(blocks[Int(head)])
            #expect(store.head.height == head + 1)
            store.close()
            removeTree(copy)
        }
    }

    @Test func damageBeforeTheLastSegmentIsReportedNotCut() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 25)
        let configuration = testConfiguration(segmentBytes: 6000)
        do {
            let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: configuration)
            try store.append(contentsOf: builder.blocks(14))
            store.close()
        }
        let first = try segmentPaths(directory.path)[0]
        var bytes = try FileSystem.readFile(first)
        bytes[100] ^= 0x01
        try writeFile(first, bytes)
        do {
            let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: configuration)
            defer { store.close() }
            #expect(throws: ChainStoreError.self) { try store.block(at: 1) }
            #expect(try store.block(at: 14) != nil)
        }
        for name in ["state.db", "state.db-wal", "state.db-shm"] { FileSystem.remove("\(directory.path)/\(name)") }
        #expect {
            try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: configuration)
        } throws: { error in
            if case .corrupt = error as? ChainStoreError { return true }
            return false
        }
        #expect(fileSize(first) == bytes.count, "nothing was cut")
    }

    @Test func aStateOnAnotherBranchIsUndoneBackToTheLog() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var builder = ChainBuilder(seed: 26)
        let store = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        try store.append(contentsOf: builder.blocks(8))
        var fork = builder
        fork.random = SeededGenerator(seed: 260)
        try store.append(contentsOf: builder.blocks(3))
        store.close()
        let stale = try FileSystem.readFile("\(directory.path)/state.db")

        let again = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        try again.revert(to: 8)
        try again.append(contentsOf: fork.blocks(2))
        again.close()
        // The state database of the old branch, as if the revert's commit had been lost.
        try writeFile("\(directory.path)/state.db", stale)
        FileSystem.remove("\(directory.path)/state.db-wal")
        FileSystem.remove("\(directory.path)/state.db-shm")

        let recovered = try ChainStore(directory: directory.path, genesis: ChainBuilder.genesis, configuration: testConfiguration())
        defer { recovered.close() }
        #expect(recovered.recovery.revertedBlocks == 3 && recovered.recovery.replayedBlocks == 2, "\(recovered.recovery)")
        #expect(recovered.head.height == 10)
        #expect(StateDump(recovered.state) == StateDump(fork.state))
    }
}
