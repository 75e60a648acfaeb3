import ChainTestSupport
import Crypto
import Testing
@testable import Ledger

struct EncodingRoundTrips {
    static var payloads: [TransactionPayload] {
        let chain = TestChain.makeGenesis().chainID
        let session = SessionID(Bytes32(Hash.blake2b([7], length: 32))!)
        let receipt = SessionReceipt(session: session, subscriber: TestChain.alice.address, cumulativeBytes: 5_000_000,
                                     cumulativeAmount: Amount(units: 12_345))
        return [
            .transfer(to: TestChain.bob.address, amount: qlc(5)),
            .vote(producers: [TestChain.alice.address, TestChain.bob.address, TestChain.producer.address].sorted()),
            .vote(producers: []),
            .registerProducer(ProducerRegistration(name: "bp-2", url: "", signingKey: TestChain.carol.address)),
            .registerAsset(sampleAsset()),
            .setBillingPolicy(BillingPolicy(pricePerMegabyte: Amount(units: 500), minimumPrepaid: qlc(1), sessionTimeoutBlocks: 600)),
            .openSession(station: TestChain.station.address, escrow: qlc(2)),
            .settleSession(receipt.signed(with: TestChain.alice, chain: chain)),
            .closeSession(session),
        ]
    }

    @Test(arguments: payloads)
    func transactionRoundTrips(_ payload: TransactionPayload) throws {
        var chain = TestChain()
        let transaction = chain.transaction(from: TestChain.alice, payload)
        let decoded = try SignedTransaction(decoding: transaction.encoded)
        #expect(decoded.body == transaction.body)
        #expect(decoded.signature == transaction.signature)
        #expect(decoded.id == transaction.id)
        #expect(decoded.body.canonicalEncoding + decoded.signature.bytes == transaction.encoded)
        #expect(decoded.invalidSignatureField() == nil)
        // Every strict prefix is rejected, naming some field, and so is one more byte.
        for length in 0..<transaction.encoded.count {
            let error = decodeError { () throws(DecodeError) in _ = try SignedTransaction(decoding: Array(transaction.encoded.prefix(length))) }
            #expect(error?.field.hasPrefix("transaction") == true)
        }
        let trailing = decodeError { () throws(DecodeError) in _ = try SignedTransaction(decoding: transaction.encoded + [0]) }
        #expect(trailing == DecodeError(field: "transaction", reason: "1 trailing bytes"))
    }

    @Test func blockWithQuorumCertificateRoundTrips() throws {
        var chain = TestChain()
        let qcBlock = BlockID(Bytes32(Hash.blake2b([1], length: 32))!)
        let digest = QuorumCertificate.voteDigest(chain: chain.chainID, block: qcBlock, height: 7)
        let voters = [TestChain.alice, TestChain.bob, TestChain.producer].sorted { $0.address < $1.address }
        let qc = QuorumCertificate(block: qcBlock, height: 7, votes: voters.map {
            ProducerVote(producer: $0.address, signature: Signature(signing: digest, with: $0))
        })
        let transactions = [chain.transaction(from: TestChain.alice, .transfer(to: TestChain.bob.address, amount: qlc(1))),
                            chain.transaction(from: TestChain.bob, .registerAsset(sampleAsset()))]
        let block = chain.block(transactions, justify: qc)
        let decoded = try Block(decoding: block.encoded)
        #expect(decoded == block)
        #expect(decoded.header.justify == qc)
        #expect(decoded.id == block.header.id)
        #expect(decoded.transactions.map(\.id) == transactions.map(\.id))
        #expect(decoded.transactionsRootMatches)
        #expect(decoded.header.canonicalEncoding + decoded.signature.bytes == Array(block.encoded.prefix(decoded.header.canonicalEncoding.count + 64)))
        for vote in qc.votes { #expect(vote.signature.isValid(for: digest, by: vote.producer)) }
    }

    @Test func genesisRoundTripsInBinary() throws {
        let genesis = TestChain.makeGenesis()
        let decoded = try Genesis(decoding: genesis.canonicalEncoding)
        #expect(decoded == genesis)
        #expect(decoded.chainID == genesis.chainID)
        #expect(decoded.canonicalEncoding == genesis.canonicalEncoding)
    }

    @Test func integersAreLittleEndianAndFixedWidth() throws {
        var writer = BinaryWriter()
        writer.u16(0x0102)
        writer.u32(0x0304_0506)
        writer.u64(0x0708_090A_0B0C_0D0E)
        writer.i32(-2)
        writer.variable([0xAA, 0xBB])
        #expect(writer.bytes == [0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07,
                                 0xFE, 0xFF, 0xFF, 0xFF, 0x02, 0x00, 0xAA, 0xBB])
        var reader = BinaryReader(writer.bytes)
        #expect(try reader.u16("a") == 0x0102)
        #expect(try reader.u32("b") == 0x0304_0506)
        #expect(try reader.u64("c") == 0x0708_090A_0B0C_0D0E)
        #expect(try reader.i32("d") == -2)
        #expect(try reader.variable("e", 0...2) == [0xAA, 0xBB])
        try reader.finish()
    }

    /// Pins the signing digest: H("qlink/sign/v1" ‖ chain ‖ type ‖ body).
    @Test func signingDigestFormat() {
        let chain = ChainID(Bytes32(Hash.blake2b([1, 2, 3], length: 32))!)
        let body: [UInt8] = [9, 8, 7]
        let expected = Hash.blake2b(Array("qlink/sign/v1".utf8) + chain.raw.bytes + [1] + body, length: 32)
        #expect(Digest.signing(chain: chain, type: .transaction, body: body).bytes == expected)
        #expect(Digest.signing(chain: chain, type: .sessionReceipt, body: body).bytes != expected)
    }

    @Test func transactionIDCoversTheSignature() throws {
        var chain = TestChain()
        let transaction = chain.transaction(from: TestChain.alice, .transfer(to: TestChain.bob.address, amount: qlc(1)))
        #expect(transaction.id == Digest.transactionID(signedEncoding: transaction.encoded))
        #expect(transaction.id.raw.bytes == Hash.blake2b(Array("qlink/txid/v1".utf8) + transaction.encoded, length: 32))
        var other = transaction.encoded
        other[other.count - 1] ^= 1
        #expect(try SignedTransaction(decoding: other).id != transaction.id)
    }
}

struct PrimitiveValues {
    @Test func amountsParseAndPrintExactly() {
        #expect(Amount(decimal: "600000000.00000000") == Amount.totalSupply)
        #expect(Amount(decimal: "0.5")?.units == 50_000_000)
        #expect(Amount(decimal: "12")?.units == 1_200_000_000)
        #expect(Amount(decimal: "0.00000001")?.units == 1)
        for bad in ["", ".5", "1.", "1.123456789", "-1", "1e3", " 1", "1,5", "184467440738"] {
            #expect(Amount(decimal: bad) == nil, "\(bad)")
        }
        #expect(Amount(units: 150_000_000).decimal == "1.50000000")
        #expect(Amount(units: 1).description == "0.00000001 QLC")
        #expect(Amount(decimal: Amount.totalSupply.decimal) == Amount.totalSupply)
    }

    @Test func amountArithmeticNeverWraps() {
        let max = Amount(units: .max)
        #expect(max.adding(Amount(units: 1)) == nil)
        #expect(Amount.zero.subtracting(Amount(units: 1)) == nil)
        #expect(max.multiplied(by: 2) == nil)
        #expect(Amount.qlc(.max) == nil)
        #expect(Amount(units: 3).adding(Amount(units: 4)) == Amount(units: 7))
    }

    @Test func chargesRoundUpPerMegabyte() {
        let price = Amount(units: 1000)
        #expect(price.charge(forBytes: 1_000_000) == Amount(units: 1000))
        #expect(price.charge(forBytes: 1) == Amount(units: 1))
        #expect(price.charge(forBytes: 0) == .zero)
        #expect(price.charge(forBytes: 1_500_000) == Amount(units: 1500))
        #expect(Amount(units: .max).charge(forBytes: .max) == nil)
    }

    @Test func bytes32OrdersLikeItsBytes() {
        var generator = SeededGenerator(seed: 1)
        for _ in 0..<200 {
            let a = (0..<32).map { _ in UInt8.random(in: 0...3, using: &generator) }
            let b = (0..<32).map { _ in UInt8.random(in: 0...3, using: &generator) }
            #expect((Bytes32(a)! < Bytes32(b)!) == a.lexicographicallyPrecedes(b))
            #expect(Bytes32(a)!.bytes == a)
        }
        #expect(Bytes32([1, 2]) == nil)
        #expect(Address(hex: TestChain.alice.address.description) == TestChain.alice.address)
    }

    @Test func merkleRootShape() {
        let ids = (0..<5).map { TransactionID(Bytes32(Hash.blake2b([UInt8($0)], length: 32))!) }
        func leaf(_ id: TransactionID) -> [UInt8] { Hash.blake2b([0] + id.raw.bytes, length: 32) }
        func node(_ l: [UInt8], _ r: [UInt8]) -> [UInt8] { Hash.blake2b([1] + l + r, length: 32) }
        #expect(Digest.merkleRoot([]) == .zero)
        #expect(Digest.merkleRoot([ids[0]]).bytes == leaf(ids[0]))
        let three = node(node(leaf(ids[0]), leaf(ids[1])), leaf(ids[2]))
        #expect(Digest.merkleRoot(Array(ids[0..<3])).bytes == three)
        #expect(Digest.merkleRoot([ids[1], ids[0]]) != Digest.merkleRoot([ids[0], ids[1]]))
        #expect(Digest.merkleRoot(Array(ids[0..<4])) != Digest.merkleRoot(Array(ids[0..<4]) + [ids[3]]))
    }

    @Test func macAddressesParseAndPrint() {
        #expect(MACAddress("02:AB:cd:00:01:ff")?.description == "02:ab:cd:00:01:ff")
        #expect(MACAddress("02:ab:cd:00:01") == nil)
        #expect(MACAddress("02:ab:cd:00:01:fff") == nil)
        #expect(MACAddress("02:ab:cd:00:01:+f") == nil)
    }
}
