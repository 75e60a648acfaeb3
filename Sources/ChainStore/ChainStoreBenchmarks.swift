import Ledger
import Posix

/// Measurements for `make bench` (call from a release build). Fixtures are generated
/// once into `directory` (deterministically, marked complete by a `fixture` file) and
/// reused by later runs; generation is never timed. Failures stop the benchmark with a
/// message: these are tools, not daemon code.
public enum ChainStoreBenchmarks {
    /// Blocks per second that recovery replays from the log into an empty state, with
    /// full validation (decode, checksums, links, transactions root, producer and every
    /// transaction signature, nonces, funds) and SQLite writes, snapshots included.
    /// The fixture: `blocks` blocks of `transactionsPerBlock` transfers from 1,000
    /// senders to 100,000 recipients, each block final two blocks later (as a 2-chain
    /// rule makes it), in `directory/replay-<blocks>x<transactions>`.
    public static func replayBlocksPerSecond(blocks: Int, transactionsPerBlock: Int, directory: String) -> Double {
        let fixture = TransferFixture(senders: 1000, recipients: 100_000)
        let path = "\(directory)/replay-\(blocks)x\(transactionsPerBlock)"
        fixture.prepareLog(path, blocks: blocks, transactionsPerBlock: transactionsPerBlock, finalityLag: 2)
        for name in ["state.db", "state.db-wal", "state.db-shm"] { FileSystem.remove("\(path)/\(name)") }
        for height in ChainStore.snapshotHeights(path) { FileSystem.remove(ChainStore.snapshotPath(path, height: height)) }
        let clock = ContinuousClock()
        let start = clock.now
        let store = orDie { () throws(ChainStoreError) in try ChainStore(directory: path, genesis: fixture.genesis) }
        let elapsed = clock.now - start
        precondition(store.head.height == UInt64(blocks), "replay reached \(store.head.height), not \(blocks)")
        store.close()
        let (seconds, attoseconds) = elapsed.components
        return Double(blocks) / (Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// Resident set (VmRSS, KiB) of this process holding a store whose state has
    /// `count` accounts (created by transfers, 1,000 a block), after opening it afresh
    /// and applying 200 more blocks of 20 transfers between random existing accounts
    /// and reading 20,000 random accounts. Fixture: `directory/accounts-<count>`.
    public static func residentKilobytesWithAccounts(_ count: Int, directory: String) -> Int {
        let fixture = TransferFixture(senders: 1000, recipients: count)
        let path = "\(directory)/accounts-\(count)"
        fixture.prepareStore(path, accounts: count)
        let store = orDie { () throws(ChainStoreError) in try ChainStore(directory: path, genesis: fixture.genesis) }
        var generator = fixture.continuing(store)
        for _ in 0..<200 {
            let block = generator.next(transactions: 20)
            orDie { () throws(ChainStoreError) in try store.append(block) }
            if block.header.height > 2 { orDie { () throws(ChainStoreError) in try store.markFinal(block.header.height - 2) } }
        }
        var random = SplitMix(seed: 7)
        var found = 0
        for _ in 0..<20_000 where store.state.account(fixture.recipient(Int(random.next() % UInt64(count)))) != nil {
            found += 1
        }
        precondition(found > 15_000, "only \(found) of 20,000 sampled accounts exist")
        let resident = ProcessInfo.residentKilobytes() ?? 0
        store.close()
        return resident
    }

    /// Bytes this process handed to `write`/`pwrite` (`wchar`) and bytes it dirtied for
    /// the storage device (`write_bytes`), per block, while appending `blocks` blocks of
    /// `transactionsPerBlock` transfers one at a time (each final two blocks later) to a
    /// fresh store: the flash wear of following the chain. Uses the replay fixture.
    public static func bytesWrittenPerBlock(blocks: Int, transactionsPerBlock: Int,
                                            directory: String) -> (syscall: Double, device: Double) {
        let fixture = TransferFixture(senders: 1000, recipients: 100_000)
        let source = "\(directory)/replay-\(blocks)x\(transactionsPerBlock)"
        fixture.prepareLog(source, blocks: blocks, transactionsPerBlock: transactionsPerBlock, finalityLag: 2)
        let target = "\(directory)/follow-\(blocks)x\(transactionsPerBlock)"
        removeStore(target)
        let log = orDie { () throws(ChainStoreError) in try BlockLog(directory: "\(source)/blocks") }
        let store = orDie { () throws(ChainStoreError) in try ChainStore(directory: target, genesis: fixture.genesis) }
        let before = ioCounters()
        var cursor = log.cursor(from: log.start)
        while case let .record(record, _) = orDie({ () throws(ChainStoreError) in try cursor.next() }) {
            guard record.kind == .block else { continue }
            let block = orDie { () throws(ChainStoreError) in
                do { return try Block(decoding: record.payload) } catch { throw .corrupt("\(error)") }
            }
            orDie { () throws(ChainStoreError) in try store.append(block) }
            let height = block.header.height
            if height > 2 { orDie { () throws(ChainStoreError) in try store.markFinal(height - 2) } }
        }
        store.close()
        let after = ioCounters()
        log.close()
        removeStore(target)
        return (Double(after.wchar - before.wchar) / Double(blocks), Double(after.device - before.device) / Double(blocks))
    }

    static func orDie<T>(_ body: () throws(ChainStoreError) -> T) -> T {
        do { return try body() } catch { fatalError("ChainStoreBenchmarks: \(error)") }
    }

    /// `wchar` and `write_bytes` − `cancelled_write_bytes` from /proc/self/io.
    static func ioCounters() -> (wchar: Int, device: Int) {
        guard let bytes = try? FileSystem.readFile("/proc/self/io") else { return (0, 0) }
        var values: [Substring: Int] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":")
            if parts.count == 2 { values[parts[0]] = Int(parts[1].drop { $0 == " " }) }
        }
        return (values["wchar"] ?? 0, (values["write_bytes"] ?? 0) - (values["cancelled_write_bytes"] ?? 0))
    }

    /// Deletes a store directory made by a benchmark.
    static func removeStore(_ path: String) {
        for folder in ["\(path)/blocks", "\(path)/snapshots"] {
            for name in (try? FileSystem.listDirectory(folder)) ?? [] { FileSystem.remove("\(folder)/\(name)") }
            FileSystem.removeDirectory(folder)
        }
        for name in (try? FileSystem.listDirectory(path)) ?? [] { FileSystem.remove("\(path)/\(name)") }
        FileSystem.removeDirectory(path)
    }
}
