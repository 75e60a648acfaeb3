#if canImport(Glibc)
import Glibc
#endif
import ChainStore
import ChainTestSupport
import Crypto
import Ledger
import Posix
import Testing

/// A deterministic key per number, in this target's own domain.
func testKey(_ number: UInt8) -> SigningKey { TestKeys.key(number, domain: 0xC5) }

/// Builds valid blocks with every kind of transaction, tracking its own in-memory state.
/// A value: copy it to grow a fork.
struct ChainBuilder {
    static let users = (1...6).map { testKey($0) }
    static let stations = [testKey(20), testKey(21)]
    static let producer = testKey(30)
    static let treasury = testKey(99)
    static let fee = Amount(units: 1000)

    static let genesis: Genesis = {
        let parameters = ChainParameters(blockIntervalMs: 1000, producerCount: 4, slotsPerProducer: 2, maxBlockBytes: 1 << 20,
                                         maxTransactionBytes: 4096, minimumFee: fee, feePerByte: .zero, assetConfirmations: 6)
        let holders = users + stations
        let rest = Amount.totalSupply.subtracting(qlc(1000).multiplied(by: UInt64(holders.count))!)!
        let allocations = holders.map { GenesisAllocation(address: $0.address, amount: qlc(1000)) }
            + [GenesisAllocation(address: treasury.address, amount: rest)]
        let registration = ProducerRegistration(name: "bp1", url: "https://bp1.example", signingKey: producer.address)
        return try! Genesis(chainName: "qlink-store-test", timestampMs: 1_767_225_600_000, parameters: parameters,
                            allocations: allocations, producers: [GenesisProducer(address: producer.address, registration: registration)])
    }()

    let machine = StateMachine(genesis: ChainBuilder.genesis)
    var state = InMemoryLedgerState(genesis: ChainBuilder.genesis)
    var head: BlockHeader?
    var random: SeededGenerator
    /// Bytes each subscriber has used per session (receipts are cumulative).
    var usage: [SessionID: UInt64] = [:]

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    var height: UInt64 { head?.height ?? 0 }

    /// The next block with up to `transactions` valid transactions, applied to `state`.
    mutating func next(transactions: Int = 6) -> Block {
        let height = height + 1
        let context = BlockContext(height: height, producer: Self.producer.address)
        var overlay = StateOverlay(base: state)
        var chosen: [SignedTransaction] = []
        var attempts = 0
        while chosen.count < transactions && attempts < transactions * 4 {
            attempts += 1
            guard let transaction = candidate(on: overlay, height: height) else { continue }
            do {
                try machine.apply(transaction, in: context, to: &overlay)
                chosen.append(transaction)
            } catch {}
        }
        let header = BlockHeader(chain: Self.genesis.chainID, height: height, parent: head?.id ?? .none,
                                 timestampMs: Self.genesis.timestampMs + height * 1000, slot: height,
                                 producer: Self.producer.address)
        let block = try! Block.assemble(header: header, transactions: chosen, signer: Self.producer)
        try! machine.applyBlock(block, to: &state, parent: head)
        head = block.header
        return block
    }

    /// `count` blocks.
    mutating func blocks(_ count: Int, transactions: Int = 6) -> [Block] {
        (0..<count).map { _ in next(transactions: transactions) }
    }

    private mutating func candidate(on state: StateOverlay<InMemoryLedgerState>, height: UInt64) -> SignedTransaction? {
        let user = Self.users[Int(random.next() % UInt64(Self.users.count))]
        let station = Self.stations[Int(random.next() % UInt64(Self.stations.count))]
        let payload: TransactionPayload
        var sender = user
        switch random.next() % 10 {
        case 0, 1, 2:
            let to = random.next() % 3 == 0 ? Address(Bytes32(Hash.blake2b(withUnsafeBytes(of: random.next()) { Array($0) }))!)
                : Self.users[Int(random.next() % UInt64(Self.users.count))].address
            payload = .transfer(to: to, amount: Amount(units: 1 + random.next() % 100_000))
        case 3:
            var producers: [Address] = []
            state.forEachProducer { address, _ in producers.append(address) }
            producers = Array(producers.sorted().prefix(Int(random.next() % 3)))
            payload = .vote(producers: producers)
        case 4:
            payload = .registerProducer(ProducerRegistration(name: "user\(random.next() % 100)", url: "",
                                                             signingKey: user.address))
        case 5:
            sender = station
            payload = .registerAsset(AssetRecord(
                position: GeoPosition(latitudeMicrodegrees: Int32(random.next() % 1000), longitudeMicrodegrees: 13_404_954),
                macs: [MACAddress(bytes: [2, 0, 0, 0, 0, UInt8(random.next() % 200)])!], ssid: Array("qlink".utf8),
                radios: [.wifi2_4GHz], maxSubscribers: 10, txPowerMilliwatts: 100,
                speedTest: SpeedTestReport(downKbps: 1000, upKbps: 500, latencyMicroseconds: 9000, measuredAtMs: height)))
        case 6:
            sender = station
            payload = .setBillingPolicy(BillingPolicy(pricePerMegabyte: Amount(units: 1000 + random.next() % 1000),
                                                      minimumPrepaid: qlc(1), sessionTimeoutBlocks: 60))
        case 7:
            payload = .openSession(station: station.address, escrow: qlc(1 + random.next() % 3))
        default:
            var sessions: [Session] = []
            state.forEachSession { sessions.append($0) }
            guard let session = sessions.sorted(by: { $0.id < $1.id }).first(where: { _ in random.next() % 2 == 0 }) ?? sessions.first,
                  let stationKey = Self.stations.first(where: { $0.address == session.station }),
                  let subscriberKey = Self.users.first(where: { $0.address == session.subscriber }) else { return nil }
            sender = stationKey
            if random.next() % 3 == 0 {
                payload = .closeSession(session.id)
            } else {
                let bytes = usage[session.id, default: 0] + 1 + random.next() % 5_000_000
                usage[session.id] = bytes
                let amount = min(session.pricePerMegabyte.charge(forBytes: bytes)!, session.settledAmount.adding(session.escrow)!)
                let receipt = SessionReceipt(session: session.id, subscriber: subscriberKey.address, cumulativeBytes: bytes,
                                             cumulativeAmount: amount)
                payload = .settleSession(receipt.signed(with: subscriberKey, chain: Self.genesis.chainID))
            }
        }
        let nonce = (state.account(sender.address) ?? .empty).nonce + 1
        let body = TransactionBody(chain: Self.genesis.chainID, sender: sender.address, nonce: nonce, fee: Self.fee,
                                   payload: payload)
        return try? SignedTransaction.sign(body, with: sender)
    }
}

/// Everything a state holds, in comparable form.
struct StateDump: Equatable, CustomStringConvertible {
    var accounts: [Address: Account] = [:]
    var producers: [Address: ProducerRegistration] = [:]
    var votes: [Address: [Address]] = [:]
    var assets: [AssetID: AssetEntry] = [:]
    var latestAssets: [Address: AssetID] = [:]
    var policies: [Address: BillingPolicy] = [:]
    var sessions: [SessionID: Session] = [:]

    init(_ state: SQLiteState) {
        state.forEachAccount { accounts[$0] = $1 }
        state.forEachProducer { producers[$0] = $1 }
        state.forEachVote { votes[$0] = $1 }
        state.forEachAsset { assets[$0.id] = $0 }
        state.forEachLatestAsset { latestAssets[$0] = $1 }
        state.forEachBillingPolicy { policies[$0] = $1 }
        state.forEachSession { sessions[$0.id] = $0 }
    }

    init(_ state: InMemoryLedgerState) {
        accounts = state.accounts
        producers = state.producers
        votes = state.allVotes
        assets = state.assets
        latestAssets = state.latestAssets
        policies = state.billingPolicies
        sessions = state.sessions
    }

    var description: String {
        "\(accounts.count) accounts, \(producers.count) producers, \(votes.count) voters, \(assets.count) assets, "
            + "\(policies.count) policies, \(sessions.count) sessions"
    }
}

/// The state a replay of `store`'s blocks from the genesis gives, in memory.
func replayReference(_ store: ChainStore) throws -> InMemoryLedgerState {
    var state = InMemoryLedgerState(genesis: ChainBuilder.genesis)
    var parent: BlockHeader?
    for height in stride(from: 1, through: store.head.height, by: 1) {
        let block = try #require(try store.block(at: height))
        try store.machine.applyBlock(block, to: &state, parent: parent)
        parent = block.header
    }
    return state
}

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ name: String = "chainstore") {
        var template = Array("/tmp/qlink-\(name)-XXXXXX".utf8CString)
        path = String(cString: mkdtemp(&template)!)
    }

    func remove() { removeTree(path) }
}

/// Deletes `path` and everything under it.
func removeTree(_ path: String) {
    if let names = try? FileSystem.listDirectory(path) {
        for name in names { removeTree("\(path)/\(name)") }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Copies the files of `source` (recursively) to `target`.
func copyTree(_ source: String, _ target: String) throws {
    try FileSystem.createDirectory(target)
    for name in try FileSystem.listDirectory(source) {
        let from = "\(source)/\(name)", to = "\(target)/\(name)"
        if (try? FileSystem.listDirectory(from)) != nil {
            try copyTree(from, to)
        } else {
            try writeFile(to, try FileSystem.readFile(from))
        }
    }
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = try FileDescriptor.open(path, [.writeOnly, .create, .truncate])
    defer { fd.close() }
    try fd.writeAll(bytes)
}

/// Cuts the file at `path` to `length` bytes.
func truncateFile(_ path: String, to length: Int) throws {
    let fd = try FileDescriptor.open(path, .writeOnly)
    defer { fd.close() }
    try fd.truncate(to: Int64(length))
}

func fileSize(_ path: String) -> Int {
    (try? FileSystem.readFile(path).count) ?? 0
}

/// The log's segment files, in order.
func segmentPaths(_ directory: String) throws -> [String] {
    try FileSystem.listDirectory("\(directory)/blocks").filter { $0.hasSuffix(".log") }.sorted()
        .map { "\(directory)/blocks/\($0)" }
}

/// A small-interval configuration so tests cross snapshot and segment boundaries.
func testConfiguration(snapshotInterval: UInt64 = 10_000, segmentBytes: Int64 = 64 << 20) -> ChainStore.Configuration {
    var configuration = ChainStore.Configuration()
    configuration.snapshotInterval = snapshotInterval
    configuration.segmentBytes = segmentBytes
    configuration.replayBatchBlocks = 7
    configuration.stateCommitBlocks = 3
    configuration.database.cacheKilobytes = 1024
    return configuration
}
