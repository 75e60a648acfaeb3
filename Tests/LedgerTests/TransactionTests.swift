import ChainTestSupport
import Crypto
import Testing
@testable import Ledger

struct TransactionValidation {
    let alice = TestChain.alice, bob = TestChain.bob

    @Test func transferMovesFundsAndPaysTheFeeToTheProducer() throws {
        var chain = TestChain()
        try chain.submit(from: alice, .transfer(to: bob.address, amount: qlc(10)))
        #expect(chain.balance(alice) == qlc(990).subtracting(TestChain.fee))
        #expect(chain.balance(bob) == qlc(1010))
        #expect(chain.balance(TestChain.producer) == TestChain.fee)
        #expect(chain.state.account(alice.address)?.nonce == 1)
        #expect(chain.state.heldSupply() == Amount.totalSupply)
    }

    @Test func wrongSignerOrTamperedBytesAreBadSignatures() {
        var chain = TestChain()
        let forged = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(10)), signer: bob)
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(forged) } == .badSignature(field: "signature"))
        var bytes = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(10)), nonce: 1).encoded
        bytes[EncodingRejections.payloadTagOffset + 1 + 32] ^= 0x01  // the amount's low byte
        let rejection = TestChain.rejection { () throws(TransactionRejection) in
            _ = try chain.machine.apply(bytes: bytes, in: chain.context, to: &chain.state)
        }
        #expect(rejection == .badSignature(field: "signature"))
        #expect(chain.balance(alice) == qlc(1000))
    }

    @Test func malformedBytesAreRejectedNamingTheField() {
        var chain = TestChain()
        let rejection = TestChain.rejection { () throws(TransactionRejection) in
            _ = try chain.machine.apply(bytes: [1, 2, 3], in: chain.context, to: &chain.state)
        }
        #expect(rejection == .malformed(DecodeError(field: "transaction.chain", reason: "truncated: needs 32 bytes, 3 left")))
    }

    @Test func wrongChainIsRejected() {
        var chain = TestChain()
        let other = TestChain.makeGenesis(name: "qlink-other").chainID
        let transaction = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)), chain: other)
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(transaction) }
            == .wrongChain(expected: chain.chainID, found: other))
    }

    @Test func replayedAndFutureNoncesAreRejected() throws {
        var chain = TestChain()
        let first = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)))
        try chain.apply(first)
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(first) }
            == .replayedNonce(account: alice.address, nonce: 1, last: 1))
        let future = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)), nonce: 3)
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(future) }
            == .futureNonce(account: alice.address, nonce: 3, expected: 2))
        try chain.apply(chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)), nonce: 2))
        try chain.apply(future)
        #expect(chain.state.account(alice.address)?.nonce == 3)
    }

    @Test func fundsMustCoverAmountPlusFee() throws {
        var chain = TestChain()
        let all = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1000)))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(all) }
            == .insufficientFunds(account: alice.address, needed: qlc(1000).adding(TestChain.fee)!, available: qlc(1000)))
        try chain.apply(chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1000).subtracting(TestChain.fee)!)))
        #expect(chain.balance(alice) == .zero)
        let broke = chain.transaction(from: alice, .vote(producers: []))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(broke) }
            == .insufficientFunds(account: alice.address, needed: TestChain.fee, available: .zero))
        let stranger = testKey(77)
        let unfunded = chain.transaction(from: stranger, .transfer(to: bob.address, amount: qlc(1)))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(unfunded) }
            == .insufficientFunds(account: stranger.address, needed: qlc(1).adding(TestChain.fee)!, available: .zero))
    }

    @Test func overflowingAmountsAreRejected() {
        var chain = TestChain()
        let huge = chain.transaction(from: alice, .transfer(to: bob.address, amount: Amount(units: .max)))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(huge) }
            == .amountOverflow(field: "payload.transfer.amount"))
        let escrow = chain.transaction(from: alice, .openSession(station: bob.address, escrow: Amount(units: .max - 10)))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(escrow) }
            == .amountOverflow(field: "payload.openSession.escrow"))
    }

    @Test func feeExpiryAndSizeLimits() {
        var chain = TestChain()
        let cheap = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)), fee: Amount(units: 999))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(cheap) }
            == .feeTooLow(fee: Amount(units: 999), required: TestChain.fee))
        chain.height = 10
        let stale = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)), validUntil: 9)
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(stale) }
            == .expired(validUntil: 9, height: 10))

        var small = TestChain.parameters
        small.maxTransactionBytes = 256
        small.feePerByte = Amount(units: 2)
        var tight = TestChain(parameters: small)
        var record = sampleAsset(ssid: String(repeating: "s", count: 32))
        record.macs = (0..<8).map { MACAddress(bytes: [2, 0, 0, 0, 0, UInt8($0)])! }
        let asset = tight.transaction(from: alice, .registerAsset(record), fee: qlc(1))
        #expect(asset.encoded.count > 256)
        #expect(TestChain.rejection { () throws(TransactionRejection) in try tight.apply(asset) }
            == .oversized(bytes: asset.encoded.count, limit: 256))
        let transfer = tight.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)), fee: Amount(units: 1385))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try tight.apply(transfer) }
            == .feeTooLow(fee: Amount(units: 1385), required: Amount(units: 1000 + 2 * 193)))
    }

    @Test func zeroTransfersAreInvalid() {
        var chain = TestChain()
        let zero = chain.transaction(from: alice, .transfer(to: bob.address, amount: .zero))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(zero) }
            == .invalid(field: "payload.transfer.amount", reason: "must be positive"))
    }

    @Test func votesNeedRegisteredProducersAndWeighByStake() throws {
        var chain = TestChain()
        let candidate = TestChain.carol
        let early = chain.transaction(from: alice, .vote(producers: [candidate.address]))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(early) }
            == .invalid(field: "payload.vote.producers[0]", reason: "\(candidate.address) is not a registered producer"))
        let registration = ProducerRegistration(name: "carol-bp", url: "https://carol.example", signingKey: testKey(33).address)
        try chain.submit(from: candidate, .registerProducer(registration))
        #expect(chain.state.producer(candidate.address) == registration)
        try chain.submit(from: alice, .vote(producers: [candidate.address, TestChain.producer.address].sorted()))
        try chain.submit(from: bob, .vote(producers: [candidate.address]))
        let standings = Election.tally(chain.state)
        #expect(standings.map(\.producer) == [candidate.address, TestChain.producer.address])
        #expect(standings[0].weight == chain.balance(alice).units + chain.balance(bob).units)
        #expect(standings[1].weight == chain.balance(alice).units)
        try chain.submit(from: bob, .vote(producers: []))
        #expect(chain.state.votes(of: bob.address).isEmpty)
        #expect(Election.elect(chain.state, count: 1).first?.weight == chain.balance(alice).units)
    }

    @Test func cachedSignatureCheckVerifiesOnce() throws {
        var chain = TestChain()
        let verifier = ParallelVerifier(cache: SignatureCache(capacity: 16))
        let transaction = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)))
        _ = try chain.machine.stage(transaction, in: chain.context, on: chain.state, signatures: .cached(verifier))
        #expect(verifier.cache.contains(transaction.id))
        try chain.machine.apply(transaction, in: chain.context, to: &chain.state, signatures: .cached(verifier))
        let forged = chain.transaction(from: alice, .transfer(to: bob.address, amount: qlc(1)), signer: bob)
        #expect(TestChain.rejection { () throws(TransactionRejection) in
            try chain.machine.apply(forged, in: chain.context, to: &chain.state, signatures: .cached(verifier))
        } == .badSignature(field: "signature"))
        #expect(!verifier.cache.contains(forged.id))
    }
}
