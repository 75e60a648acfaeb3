import Consensus
import ChainTestSupport
import Crypto
import Ledger
import Testing

/// A deterministic key per number, in this target's own domain.
func testKey(_ number: UInt8) -> SigningKey { TestKeys.key(number, domain: 0xC0) }

typealias Engine = ConsensusEngine<InMemoryStateProvider>

/// Test chains: producer `i` has account key `testKey(i)` and a separate hot signing key
/// `testKey(100 + i)`; alice holds 1000 QLC, the treasury the rest of the supply.
enum TestChain {
    static let genesisMs: UInt64 = 1_767_225_600_000
    static let alice = testKey(200), treasury = testKey(201)
    static let fee = Amount(units: 1000)

    static func account(_ index: Int) -> SigningKey { testKey(UInt8(index)) }
    static func signer(_ index: Int) -> SigningKey { testKey(UInt8(100 + index)) }

    static func genesis(producers: Int, elected: Int? = nil, slotsPerProducer: UInt8 = 2,
                        name: String = "qlink-consensus-test", maxBlockBytes: UInt32 = 1 << 20) -> Genesis {
        let parameters = ChainParameters(
            blockIntervalMs: 1000, producerCount: UInt8(elected ?? producers), slotsPerProducer: slotsPerProducer,
            maxBlockBytes: maxBlockBytes, maxTransactionBytes: min(4096, maxBlockBytes - 1024), minimumFee: fee, feePerByte: .zero, assetConfirmations: 6)
        let allocations = [
            GenesisAllocation(address: alice.address, amount: qlc(1000)),
            GenesisAllocation(address: treasury.address, amount: Amount.totalSupply.subtracting(qlc(1000))!),
        ]
        let registered = (0..<producers).map { index in
            GenesisProducer(address: account(index).address,
                            registration: ProducerRegistration(name: "bp\(index)", url: "", signingKey: signer(index).address))
        }
        return try! Genesis(chainName: name, timestampMs: genesisMs, parameters: parameters, allocations: allocations,
                            producers: registered)
    }

    /// A signed transaction on `genesis`'s chain.
    static func transaction(_ genesis: Genesis, from key: SigningKey, nonce: UInt64,
                            _ payload: TransactionPayload) -> SignedTransaction {
        try! SignedTransaction.sign(TransactionBody(chain: genesis.chainID, sender: key.address, nonce: nonce, fee: fee,
                                                    payload: payload), with: key)
    }

    /// Unix ms 100 ms into `slot`.
    static func time(slot: UInt64) -> UInt64 { genesisMs + slot * 1000 + 100 }
}

/// A shared mempool: transactions stay offered until final or refused.
final class Mempool {
    var pending: [SignedTransaction] = []
}

/// Several producers in one process on a manual clock. Messages are delivered at once,
/// in order, to every online node the links allow; nobody sleeps.
final class TestNetwork {
    struct Member {
        var engine: Engine
        let persistence: InMemoryVotePersistence
        var online = true
        /// Its clock never fires, so it misses its slots; it still votes on blocks it receives.
        var muted = false
    }

    let genesis: Genesis
    var members: [Member] = []
    let mempool = Mempool()
    private(set) var slot: UInt64 = 0
    /// Every block anyone broadcast, in order (what a syncing node fetches).
    private(set) var blocks: [Block] = []
    /// Every finalized action per node, flattened.
    private(set) var finalized: [[Block]]
    private(set) var evidence: [Evidence] = []
    /// Unexpected refusals (replays and unknown parents during sync are expected and not kept).
    private(set) var refusals: [String] = []
    /// Nodes that crash right after taking in the next block they receive, before any
    /// vote it caused leaves (the vote is persisted, never sent).
    var crashOnNextBlock: Set<Int> = []
    /// Whether a message from one node reaches another (partitions).
    var link: (Int, Int) -> Bool = { _, _ in true }

    let configuration: ConsensusConfiguration

    init(genesis: Genesis, producers: Int, configuration: ConsensusConfiguration = ConsensusConfiguration()) {
        self.genesis = genesis
        self.configuration = configuration
        finalized = Array(repeating: [], count: producers)
        for index in 0..<producers { members.append(makeMember(index, persistence: InMemoryVotePersistence())) }
    }

    convenience init(producers: Int) {
        self.init(genesis: TestChain.genesis(producers: producers), producers: producers)
    }

    private func makeMember(_ index: Int, persistence: InMemoryVotePersistence) -> Member {
        let mempool = mempool
        let engine = try! Engine(genesis: genesis, provider: InMemoryStateProvider(genesis: genesis),
                                 producer: LocalProducer(account: TestChain.account(index).address,
                                                         signingKey: TestChain.signer(index)),
                                 persistence: persistence,
                                 transactions: ClosureTransactionSource { _, _ in mempool.pending },
                                 configuration: configuration)
        return Member(engine: engine, persistence: persistence)
    }

    var now: UInt64 { TestChain.time(slot: slot) }

    /// Advances `count` slots: every online node ticks, then messages settle.
    func run(slots count: Int) {
        for _ in 0..<count {
            advance()
            for index in members.indices where members[index].online && !members[index].muted { tick(index) }
        }
    }

    /// Moves the clock to the next slot without ticking anyone.
    func advance() { slot += 1 }

    /// Node `index`'s clock fires; its actions are carried out (or dropped: a crash
    /// after it persisted, before it sent). Returns the actions.
    @discardableResult
    func tick(_ index: Int, deliver: Bool = true) -> [ConsensusAction] {
        let actions = members[index].engine.onTick(now: now)
        if deliver { handle(actions, from: index) }
        return actions
    }

    /// Carries out `actions` of node `from`, delivering everything that follows.
    func handle(_ actions: [ConsensusAction], from: Int) {
        var queue = actions.map { (from, $0) }
        while !queue.isEmpty {
            let (origin, action) = queue.removeFirst()
            switch action {
            case let .broadcastBlock(block):
                blocks.append(block)
                for target in members.indices where target != origin && reachable(origin, target) {
                    if crashOnNextBlock.remove(target) != nil {
                        _ = try? members[target].engine.onBlock(block, now: now)
                        crash(target)
                        continue
                    }
                    do {
                        queue += try members[target].engine.onBlock(block, now: now).map { (target, $0) }
                    } catch {
                        refusals.append("node \(target): \(error)")
                    }
                }
            case let .broadcastVote(vote):
                for target in members.indices where target != origin && reachable(origin, target) {
                    do {
                        queue += try members[target].engine.onVote(vote).map { (target, $0) }
                    } catch VoteRejection.stale {
                    } catch {
                        refusals.append("node \(target): \(error)")
                    }
                }
            case let .finalized(final):
                finalized[origin] += final
                let included = Set(final.flatMap { $0.transactions.map(\.id) })
                mempool.pending.removeAll { included.contains($0.id) }
            case let .evidence(found):
                evidence.append(found)
            case let .discarded(id, _):
                mempool.pending.removeAll { $0.id == id }
            case let .persistenceFailed(message), let .productionFailed(message):
                refusals.append("node \(origin): \(message)")
            }
        }
    }

    private func reachable(_ from: Int, _ to: Int) -> Bool { members[to].online && link(from, to) }

    /// Takes a node off the network (its clock stops too).
    func disconnect(_ index: Int) { members[index].online = false }

    /// Brings a node back and lets it fetch every block it missed, in order.
    func reconnect(_ index: Int) {
        members[index].online = true
        sync(index)
    }

    /// Offers node `index` every block broadcast so far (a peer sync).
    func sync(_ index: Int) {
        for block in blocks where members[index].engine.tree[block.id] == nil {
            if let actions = try? members[index].engine.onBlock(block, now: now) { handle(actions, from: index) }
        }
    }

    /// Kills node `index` and starts a fresh engine on the same safety record (its
    /// "disk"); it then syncs from its peers.
    func crash(_ index: Int) {
        let online = members[index].online
        members[index] = makeMember(index, persistence: members[index].persistence)
        members[index].online = online
        finalized[index] = []
        if online { sync(index) }
    }

    // MARK: Observations

    func engine(_ index: Int) -> Engine { members[index].engine }

    /// The blocks from the genesis to `id` on node `index` (final ones from the provider).
    func chain(_ index: Int, to id: BlockID) -> [Block] {
        let engine = members[index].engine
        return engine.provider.finalBlocks + engine.tree.path(to: id).compactMap(\.block)
    }

    /// Final heights of the online nodes.
    var finalHeights: [UInt64] { members.filter(\.online).map { $0.engine.final.height } }

    /// Checks that every node's final chain is a prefix of the longest one.
    func expectConsistentFinality(sourceLocation: SourceLocation = #_sourceLocation) {
        let chains = members.map { $0.engine.provider.finalBlocks.map(\.id) }
        let longest = chains.max { $0.count < $1.count } ?? []
        for (index, chain) in chains.enumerated() {
            #expect(Array(longest.prefix(chain.count)) == chain, "node \(index) finalized a different chain",
                    sourceLocation: sourceLocation)
        }
    }
}

extension TestNetwork {
    /// The node whose producer account is `address`.
    func index(of address: Address) -> Int {
        members.indices.first { TestChain.account($0).address == address }!
    }

    /// Who produces in the next slot if it extends node `index`'s head.
    func nextProducer(seenBy index: Int = 0) -> Int {
        self.index(of: try! engine(index).schedule(forSlot: slot + 1).producer(at: slot + 1)!.address)
    }

    /// Runs slots until node `producer` owns the next two slots of the current round.
    func runUntilNextSlotsBelong(to producer: Int, limit: Int = 64) {
        for _ in 0..<limit {
            let head = engine(0).head
            let schedule = head.schedule
            if slot + 2 < schedule.endSlot, nextProducer() == producer,
               schedule.producer(at: slot + 2)?.address == TestChain.account(producer).address { return }
            run(slots: 1)
        }
        Issue.record("producer \(producer) never got two slots in a row")
    }

    /// A block by producer `index` on node 0's head in the next slot, signed with its keys.
    func forgeBlock(by index: Int, timestampOffset: UInt64 = 0, transactions: [SignedTransaction] = []) -> Block {
        let head = engine(0).head
        let header = BlockHeader(chain: genesis.chainID, height: head.height + 1, parent: head.id,
                                 timestampMs: TestChain.time(slot: slot + 1) + timestampOffset, slot: slot + 1,
                                 producer: TestChain.account(index).address,
                                 justify: engine(0).tree.highestCertified(onBranchOf: head.id).certificate)
        return try! Block.assemble(header: header, transactions: transactions, signer: TestChain.signer(index))
    }
}
