import ChainTestSupport
import Crypto
import Testing
@testable import Ledger

/// A deterministic key per number, in this target's own domain.
func testKey(_ number: UInt8) -> SigningKey { TestKeys.key(number, domain: 0x51) }

/// A small chain for tests: alice, bob and carol hold 1000 QLC each, the station 10,
/// the treasury the rest; one genesis producer. Fees: flat 0.00001 QLC, nothing per byte.
struct TestChain {
    static let alice = testKey(1), bob = testKey(2), carol = testKey(3), station = testKey(4)
    static let producer = testKey(10), treasury = testKey(99)
    static let fee = Amount(units: 1000)

    static let parameters = ChainParameters(
        blockIntervalMs: 1000, producerCount: 4, slotsPerProducer: 2, maxBlockBytes: 1 << 20, maxTransactionBytes: 4096,
        minimumFee: fee, feePerByte: .zero, assetConfirmations: 6)

    static func makeGenesis(name: String = "qlink-test", parameters: ChainParameters = parameters) -> Genesis {
        let small = [(alice, qlc(1000)), (bob, qlc(1000)), (carol, qlc(1000)), (station, qlc(10))]
        let rest = Amount.totalSupply.subtracting(qlc(3010))!
        let allocations = small.map { GenesisAllocation(address: $0.0.address, amount: $0.1) }
            + [GenesisAllocation(address: treasury.address, amount: rest)]
        let producer = GenesisProducer(address: producer.address,
                                       registration: ProducerRegistration(name: "bp1", url: "https://bp1.example",
                                                                          signingKey: producer.address))
        return try! Genesis(chainName: name, timestampMs: 1_767_225_600_000, parameters: parameters,
                            allocations: allocations, producers: [producer])
    }

    let genesis: Genesis
    let machine: StateMachine
    var state: InMemoryLedgerState
    var height: UInt64 = 1
    /// Nonces handed out but maybe not yet applied (for building blocks).
    private var nonces: [Address: UInt64] = [:]

    /// Forgets nonces handed out for transactions that were never applied.
    mutating func resetNonces() { nonces = [:] }

    init(parameters: ChainParameters = parameters) {
        genesis = Self.makeGenesis(parameters: parameters)
        machine = StateMachine(genesis: genesis)
        state = InMemoryLedgerState(genesis: genesis)
    }

    var chainID: ChainID { genesis.chainID }
    var context: BlockContext { BlockContext(height: height, producer: Self.producer.address) }

    func balance(_ key: SigningKey) -> Amount { balance(key.address) }
    func balance(_ address: Address) -> Amount { (state.account(address) ?? .empty).balance }

    /// The next transaction of `key`, signed by `signer` (default: `key`).
    mutating func transaction(from key: SigningKey, _ payload: TransactionPayload, nonce: UInt64? = nil,
                              fee: Amount = fee, signer: SigningKey? = nil, chain: ChainID? = nil,
                              validUntil: UInt64 = .max) -> SignedTransaction {
        let next = nonce ?? (nonces[key.address, default: (state.account(key.address) ?? .empty).nonce] + 1)
        if nonce == nil { nonces[key.address] = next }
        let body = TransactionBody(chain: chain ?? chainID, sender: key.address, nonce: next, fee: fee,
                                   validUntil: validUntil, payload: payload)
        return try! SignedTransaction.sign(body, with: signer ?? key)
    }

    /// Applies at the current height; on rejection checks the state did not change.
    mutating func apply(_ transaction: SignedTransaction) throws(TransactionRejection) {
        let before = state
        do {
            try machine.apply(transaction, in: context, to: &state)
        } catch {
            #expect(state == before, "a rejected transaction changed the state")
            nonces = [:]
            throw error
        }
    }

    /// Builds and applies a transaction in one step.
    mutating func submit(from key: SigningKey, _ payload: TransactionPayload) throws(TransactionRejection) {
        try apply(transaction(from: key, payload))
    }

    /// A block at the current height by the genesis producer.
    func block(_ transactions: [SignedTransaction], signer: SigningKey = producer, producer: Address? = nil,
               justify: QuorumCertificate? = nil) -> Block {
        let header = BlockHeader(chain: chainID, height: height, parent: .none, timestampMs: 1_767_225_601_000 + height,
                                 slot: height, producer: producer ?? Self.producer.address, justify: justify)
        return try! Block.assemble(header: header, transactions: transactions, signer: signer)
    }

    /// The rejection `body` throws, if any.
    static func rejection(_ body: () throws(TransactionRejection) -> Void) -> TransactionRejection? {
        do { try body() } catch { return error }
        return nil
    }
}

/// An asset record that passes every limit.
func sampleAsset(ssid: String = "qlink-cafe", mac: UInt8 = 1) -> AssetRecord {
    AssetRecord(position: GeoPosition(latitudeMicrodegrees: 52_520_008, longitudeMicrodegrees: 13_404_954, altitudeMeters: 34),
                macs: [MACAddress(bytes: [0x02, 0, 0, 0, 0, mac])!, MACAddress("02:00:00:00:01:ff")!],
                ssid: Array(ssid.utf8), radios: [.wifi2_4GHz, .lteU], maxSubscribers: 10, txPowerMilliwatts: 100,
                speedTest: SpeedTestReport(downKbps: 50_000, upKbps: 20_000, latencyMicroseconds: 12_000,
                                           measuredAtMs: 1_767_225_000_000))
}

/// The error `body` throws, if any.
func decodeError(_ body: () throws(DecodeError) -> Void) -> DecodeError? {
    do { try body() } catch { return error }
    return nil
}
