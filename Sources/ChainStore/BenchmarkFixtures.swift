import Ledger
import Posix

/// SplitMix64: the benchmarks' seeded choices.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The benchmarks' chain: Ledger's `BenchmarkChain` (1,000 senders) and a pool of
/// recipients, generated into a directory once and reused.
struct TransferFixture {
    let chain: BenchmarkChain
    let recipientCount: Int

    init(senders: Int, recipients: Int) {
        chain = BenchmarkChain(senders: senders)
        recipientCount = recipients
    }

    var genesis: Genesis { chain.genesis }

    func recipient(_ index: Int) -> Address { chain.recipient(index) }

    /// Makes blocks: senders round-robin with their next nonces, recipients random from
    /// the pool or, with `sequential`, each new (one account created per transfer).
    struct Generator {
        let fixture: TransferFixture
        var nonces: [UInt64]
        var parent: BlockHeader?
        var random = SplitMix(seed: 42)
        var nextSender = 0
        var sequential: Int?

        mutating func next(transactions: Int) -> Block {
            var transfers: [(sender: Int, nonce: UInt64, to: Address)] = []
            transfers.reserveCapacity(transactions)
            for _ in 0..<transactions {
                let sender = nextSender
                nextSender = (nextSender + 1) % nonces.count
                nonces[sender] += 1
                let to: Int
                if let index = sequential {
                    to = index
                    sequential = index + 1
                } else {
                    to = Int(random.next() % UInt64(fixture.recipientCount))
                }
                transfers.append((sender, nonces[sender], fixture.recipient(to)))
            }
            let block = fixture.chain.block(after: parent, transfers: transfers)
            parent = block.header
            return block
        }
    }

    func generator(sequential: Int? = nil) -> Generator {
        Generator(fixture: self, nonces: [UInt64](repeating: 0, count: chain.senderCount), parent: nil, sequential: sequential)
    }

    /// A generator continuing `store`'s chain (nonces read from its state).
    func continuing(_ store: ChainStore) -> Generator {
        var generator = generator()
        generator.nonces = (0..<chain.senderCount).map { (store.state.account(chain.sender($0)) ?? .empty).nonce }
        generator.parent = store.headHeader
        return generator
    }

    private func isPrepared(_ path: String, _ tag: String) -> Bool {
        (try? FileSystem.readFile("\(path)/fixture")).map { String(decoding: $0, as: UTF8.self) } == tag
    }

    private func markPrepared(_ path: String, _ tag: String) {
        ChainStoreBenchmarks.orDie { () throws(ChainStoreError) in
            do throws(SystemError) { try FileSystem.writeDurably("\(path)/fixture", Array(tag.utf8)) } catch { throw .system(error) }
        }
    }

    /// Writes a log of `blocks` blocks straight to `path/blocks` (no state), with a
    /// finality mark `finalityLag` blocks behind each block, unless already there.
    func prepareLog(_ path: String, blocks: Int, transactionsPerBlock: Int, finalityLag: UInt64) {
        let tag = "log \(blocks)x\(transactionsPerBlock) lag \(finalityLag) v1"
        guard !isPrepared(path, tag) else { return }
        ChainStoreBenchmarks.removeStore(path)
        ChainStoreBenchmarks.orDie { () throws(ChainStoreError) in
            let log = try BlockLog(directory: "\(path)/blocks")
            defer { log.close() }
            var generator = generator()
            var records: [LogRecord] = []
            for _ in 0..<blocks {
                let block = generator.next(transactions: transactionsPerBlock)
                records.append(.block(block))
                if block.header.height > finalityLag { records.append(.final(block.header.height - finalityLag)) }
                if records.count >= 1024 {
                    try log.append(records, sync: false)
                    records.removeAll(keepingCapacity: true)
                }
            }
            try log.append(records, sync: true)
        }
        markPrepared(path, tag)
    }

    /// Builds a store at `path` whose state holds `accounts` recipient accounts (1,000
    /// new ones a block, appended as final), unless already there.
    func prepareStore(_ path: String, accounts: Int) {
        let tag = "store \(accounts) v1"
        guard !isPrepared(path, tag) else { return }
        ChainStoreBenchmarks.removeStore(path)
        ChainStoreBenchmarks.orDie { () throws(ChainStoreError) in
            let store = try ChainStore(directory: path, genesis: genesis)
            defer { store.close() }
            var generator = generator(sequential: 0)
            var made = 0
            while made < accounts {
                var batch: [Block] = []
                while batch.count < 8 && made < accounts {
                    let count = min(1000, accounts - made)
                    batch.append(generator.next(transactions: count))
                    made += count
                }
                try store.append(contentsOf: batch, final: true)
            }
        }
        markPrepared(path, tag)
    }
}
