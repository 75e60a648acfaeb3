import Crypto

/// A deterministic chain of transfers for the storage and sync benchmarks of modules
/// that cannot sign themselves (ChainStore, PeerNet): `senders` funded accounts with
/// keys derived from their index, one producer, blocks of transfers to `recipients`
/// key-less addresses. Pure like the rest of Ledger: no I/O, clock or randomness; the
/// caller chooses senders, nonces and recipients.
public struct BenchmarkChain: Sendable {
    /// The chain's genesis: the senders' balances and the producer.
    public let genesis: Genesis
    private let senders: [SigningKey]
    private let producer: SigningKey

    /// `senders` (1...1,000,000) share the supply equally (the first takes the remainder).
    public init(senders count: Int) {
        senders = (0..<count).map { index in
            SigningKey(seed: Hash.blake2b([0xBE] + withUnsafeBytes(of: UInt32(index).littleEndian) { Array($0) }, length: 32))!
        }
        producer = SigningKey(seed: [UInt8](repeating: 0xB0, count: 32))!
        let share = Amount.totalSupply.units / UInt64(count)
        let first = Amount.totalSupply.units - share * UInt64(count - 1)
        let producerAddress = Address(producer.publicKey)
        genesis = try! Genesis(
            chainName: "qlink-bench-chain", timestampMs: 1_767_225_600_000, parameters: .standard,
            allocations: senders.enumerated().map { index, key in
                GenesisAllocation(address: Address(key.publicKey), amount: Amount(units: index == 0 ? first : share))
            },
            producers: [GenesisProducer(address: producerAddress,
                                        registration: ProducerRegistration(name: "bench", url: "", signingKey: producerAddress))])
    }

    /// Funded senders.
    public var senderCount: Int { senders.count }

    /// Sender `index`'s account.
    public func sender(_ index: Int) -> Address { Address(senders[index].publicKey) }

    /// Recipient `index`'s address: a hash, no key behind it.
    public func recipient(_ index: Int) -> Address {
        Address(Bytes32(Hash.blake2b([0xAC] + withUnsafeBytes(of: UInt64(index).littleEndian) { Array($0) }, length: 32))!)
    }

    /// The child of `parent` (nil: block 1) holding one transfer of `amount` for each
    /// `(sender index, nonce, recipient)`, each paying the minimum fee; signed on all cores.
    public func block(after parent: BlockHeader?, transfers: [(sender: Int, nonce: UInt64, to: Address)],
                      amount: Amount = Amount(units: 1000)) -> Block {
        let chain = genesis.chainID
        let fee = genesis.parameters.requiredFee(bytes: 193)!
        let bodies = transfers.map { transfer in
            TransactionBody(chain: chain, sender: sender(transfer.sender), nonce: transfer.nonce, fee: fee,
                            payload: .transfer(to: transfer.to, amount: amount))
        }
        let keys = transfers.map { senders[$0.sender] }
        let signed = ParallelVerifier.concurrentMap(count: bodies.count) { try! SignedTransaction.sign(bodies[$0], with: keys[$0]) }
        let height = (parent?.height ?? 0) + 1
        let header = BlockHeader(chain: chain, height: height, parent: parent?.id ?? .none,
                                 timestampMs: genesis.timestampMs + height * UInt64(genesis.parameters.blockIntervalMs),
                                 slot: height, producer: Address(producer.publicKey))
        return try! Block.assemble(header: header, transactions: signed, signer: producer)
    }
}
