import ChainTestSupport
import Crypto
import Testing
@testable import Ledger

struct BlockValidation {
    let alice = TestChain.alice, bob = TestChain.bob, carol = TestChain.carol

    func rejection(_ chain: inout TestChain, _ block: Block, parent: BlockHeader? = nil) -> BlockRejection? {
        let before = chain.state
        do {
            try chain.machine.applyBlock(block, to: &chain.state, parent: parent)
            return nil
        } catch {
            #expect(chain.state == before, "a rejected block changed the state")
            return error
        }
    }

    @Test func aValidBlockAppliesInOrderAndPaysFees() throws {
        var chain = TestChain()
        let transactions = [
            chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(100))),
            chain.transaction(from: bob, .transfer(to: carol.address, amount: qlc(1050))),  // needs alice's 100 first
            chain.transaction(from: alice, .transfer(to: carol.address, amount: qlc(1))),
        ]
        let verifier = ParallelVerifier()
        try chain.machine.applyBlock(chain.block(transactions), to: &chain.state, verifier: verifier)
        #expect(chain.balance(carol) == qlc(2051))
        #expect(chain.balance(TestChain.producer) == TestChain.fee.multiplied(by: 3))
        #expect(transactions.allSatisfy { verifier.cache.contains($0.id) })
        #expect(chain.state.heldSupply() == Amount.totalSupply)
    }

    @Test func oneBadTransactionRejectsTheWholeBlock() {
        var chain = TestChain()
        let good = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(600)))
        let overspend = chain.transaction(from: alice, .transfer(to: carol.address, amount: qlc(600)))
        let block = chain.block([good, overspend])
        #expect(rejection(&chain, block) == .transaction(index: 1, id: overspend.id, reason: .insufficientFunds(
            account: alice.address, needed: qlc(600).adding(TestChain.fee)!, available: qlc(400).subtracting(TestChain.fee)!)))
        chain.resetNonces()
        let first = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)))
        let doubleSpend = chain.block([first, chain.transaction(from: alice, .transfer(to: carol.address, amount: qlc(1)), nonce: 1)])
        #expect(rejection(&chain, doubleSpend) == .transaction(index: 1, id: doubleSpend.transactions[1].id,
                                                                reason: .replayedNonce(account: alice.address, nonce: 1, last: 1)))
        let duplicate = chain.block([first, first])
        #expect(rejection(&chain, duplicate) == .duplicateTransaction(index: 1, id: first.id))
    }

    @Test func aBadSignatureAnywhereRejectsTheBlock() {
        var chain = TestChain()
        let good = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)))
        let forged = chain.transaction(from: bob, .transfer(to: carol.address, amount: qlc(1)), signer: carol)
        let block = chain.block([good, forged])
        #expect(rejection(&chain, block) == .transaction(index: 1, id: forged.id, reason: .badSignature(field: "signature")))
    }

    @Test func theProducerMustBeRegisteredAndSign() {
        var chain = TestChain()
        #expect(rejection(&chain, chain.block([], signer: carol)) == .badProducerSignature(producer: TestChain.producer.address))
        #expect(rejection(&chain, chain.block([], signer: carol, producer: carol.address)) == .unknownProducer(carol.address))
    }

    @Test func theHeaderMustCommitToTheTransactions() {
        var chain = TestChain()
        let one = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)))
        let two = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)))
        let signed = chain.block([one])
        var writer = BinaryWriter()
        signed.header.encode(to: &writer)
        writer.signature(signed.signature)
        writer.list([one, two], prefix: .u32) { $0.variable($1.encoded) }
        let swapped = try! Block(decoding: writer.bytes)
        #expect(rejection(&chain, swapped) == .transactionsRootMismatch(
            header: signed.header.transactionsRoot, computed: Digest.merkleRoot([one.id, two.id])))
    }

    @Test func wrongChainOversizedAndBrokenLinksAreRejected() throws {
        var chain = TestChain()
        let otherChain = TestChain.makeGenesis(name: "qlink-other").chainID
        let header = BlockHeader(chain: otherChain, height: 1, parent: .none, timestampMs: 5, slot: 1,
                                 producer: TestChain.producer.address)
        let foreign = try Block.assemble(header: header, transactions: [], signer: TestChain.producer)
        #expect(rejection(&chain, foreign) == .wrongChain(expected: chain.chainID, found: otherChain))

        let first = chain.block([])
        try chain.machine.applyBlock(first, to: &chain.state)
        chain.height = 3
        let skipping = chain.block([])
        #expect(rejection(&chain, skipping, parent: first.header)
            == .notChild(reason: "height 3 does not follow the parent's 1"))
        chain.height = 2
        #expect(rejection(&chain, chain.block([]), parent: first.header)
            == .notChild(reason: "parent \(BlockID.none) is not \(first.id)"))
        var linked = BlockHeader(chain: chain.chainID, height: 2, parent: first.id, timestampMs: first.header.timestampMs,
                                 slot: 2, producer: TestChain.producer.address)
        let sameTime = try Block.assemble(header: linked, transactions: [], signer: TestChain.producer)
        #expect(rejection(&chain, sameTime, parent: first.header)?.description.contains("is not after the parent's") == true)
        linked.timestampMs += 1000
        try chain.machine.applyBlock(Block.assemble(header: linked, transactions: [], signer: TestChain.producer),
                                     to: &chain.state, parent: first.header)

        var small = TestChain.parameters
        small.maxBlockBytes = 1024 + 256
        small.maxTransactionBytes = 256
        var tight = TestChain(parameters: small)
        let many = (0..<8).map { _ in tight.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1))) }
        let big = tight.block(many)
        #expect(rejection(&tight, big) == .oversized(bytes: big.encoded.count, limit: 1280))
    }
}

struct SignatureVerification {
    @Test func parallelVerifierFindsEveryBadSignatureAndCachesTheGoodOnes() {
        var chain = TestChain()
        let transactions = (0..<40).map { index in
            chain.transaction(from: TestChain.alice, .transfer(to: TestChain.bob.address, amount: qlc(1)),
                              signer: index % 7 == 3 ? TestChain.carol : TestChain.alice)
        }
        let verifier = ParallelVerifier(cache: SignatureCache(capacity: 1000))
        let results = verifier.verify(transactions)
        for (index, result) in results.enumerated() {
            #expect(result == (index % 7 == 3 ? "signature" : nil), "transaction \(index)")
        }
        #expect(verifier.cache.count == transactions.count - 6)
        #expect(verifier.firstInvalid(transactions)?.index == 3)
        #expect(verifier.firstInvalid(transactions.filter { !($0.signature.isValid(for: $0.signingDigest, by: TestChain.carol.address)) }) == nil)
    }

    @Test func concurrentMapKeepsOrder() {
        #expect(ParallelVerifier.concurrentMap(count: 1000) { $0 * 2 } == (0..<1000).map { $0 * 2 })
        #expect(ParallelVerifier.concurrentMap(count: 0) { $0 }.isEmpty)
        #expect(ParallelVerifier.concurrentMap(count: 1) { $0 + 5 } == [5])
    }

    @Test func cacheIsBounded() {
        let cache = SignatureCache(capacity: 100)
        let ids = (0..<1000).map { TransactionID(Bytes32(Hash.blake2b([UInt8($0 & 0xFF), UInt8($0 >> 8)], length: 32))!) }
        for id in ids { cache.insert(id) }
        #expect(cache.count <= 100)
        #expect(cache.contains(ids[999]))
        #expect(!cache.contains(ids[0]))
    }
}
