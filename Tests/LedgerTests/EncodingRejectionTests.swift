import ChainTestSupport
import Crypto
import Testing
@testable import Ledger

/// Every rejection names the field, and nothing non-canonical decodes.
struct EncodingRejections {
    /// Offset of the payload tag in a transaction: chain, sender, nonce, fee, validUntil.
    static let payloadTagOffset = 32 + 32 + 8 + 8 + 8

    func signError(_ payload: TransactionPayload) -> DecodeError? {
        let body = TransactionBody(chain: TestChain.makeGenesis().chainID, sender: TestChain.alice.address, nonce: 1,
                                   fee: TestChain.fee, payload: payload)
        return decodeError { () throws(DecodeError) in _ = try SignedTransaction.sign(body, with: TestChain.alice) }
    }

    func decodeTransaction(_ bytes: [UInt8]) -> DecodeError? {
        decodeError { () throws(DecodeError) in _ = try SignedTransaction(decoding: bytes) }
    }

    @Test func unknownPayloadTag() {
        var chain = TestChain()
        for tag: UInt8 in [0, 9, 255] {
            var bytes = chain.transaction(from: TestChain.alice, .closeSession(SessionID(.zero))).encoded
            bytes[Self.payloadTagOffset] = tag
            #expect(decodeTransaction(bytes) == DecodeError(field: "transaction.payload", reason: "unknown tag \(tag)"))
        }
    }

    @Test func truncatedAndOversized() {
        var chain = TestChain()
        let bytes = chain.transaction(from: TestChain.alice, .transfer(to: TestChain.bob.address, amount: qlc(1))).encoded
        #expect(decodeTransaction(Array(bytes.dropLast(10)))
            == DecodeError(field: "transaction.signature", reason: "truncated: needs 64 bytes, 54 left"))
        #expect(decodeTransaction(Array(bytes.prefix(40)))
            == DecodeError(field: "transaction.sender", reason: "truncated: needs 32 bytes, 8 left"))
        #expect(decodeTransaction([UInt8](repeating: 0, count: 70_000))
            == DecodeError(field: "transaction", reason: "70000 bytes > 65535"))
    }

    @Test func assetFieldLimits() {
        var asset = sampleAsset()
        asset.ssid = [UInt8](repeating: 0x41, count: 33)
        #expect(signError(.registerAsset(asset))
            == DecodeError(field: "transaction.payload.registerAsset.ssid", reason: "length 33 > 32"))
        asset.ssid = []
        #expect(signError(.registerAsset(asset))
            == DecodeError(field: "transaction.payload.registerAsset.ssid", reason: "length 0 < 1"))
        asset = sampleAsset()
        asset.macs = (0..<9).map { MACAddress(bytes: [2, 0, 0, 0, 0, UInt8($0)])! }
        #expect(signError(.registerAsset(asset))
            == DecodeError(field: "transaction.payload.registerAsset.macs", reason: "count 9 > 8"))
        asset.macs = [asset.macs[0], asset.macs[1], asset.macs[0]]
        #expect(signError(.registerAsset(asset))?.field == "transaction.payload.registerAsset.macs[2]")
        asset = sampleAsset()
        asset.position.latitudeMicrodegrees = 90_000_001
        #expect(signError(.registerAsset(asset))?.field == "transaction.payload.registerAsset.latitudeMicrodegrees")
        asset = sampleAsset()
        asset.radios = RadioCapabilities(rawValue: 1 << 7)
        #expect(signError(.registerAsset(asset))
            == DecodeError(field: "transaction.payload.registerAsset.radios", reason: "invalid capability bits 128"))
    }

    @Test func listCountIsCheckedAgainstTheBytesLeft() {
        var chain = TestChain()
        var bytes = chain.transaction(from: TestChain.alice, .registerAsset(sampleAsset())).encoded
        let body = Self.payloadTagOffset + 1 + 12
        bytes = Array(bytes.prefix(body + 2 + 6 + 3))  // the mac count, one mac, half of the second
        #expect(decodeTransaction(bytes)?.description
            == "transaction.payload.registerAsset.macs: truncated: 2 elements cannot fit in 9 bytes")
    }

    @Test func votesAreASet() {
        let producers = (0..<31).map { testKey(UInt8(100 + $0)).address }.sorted()
        #expect(signError(.vote(producers: producers))
            == DecodeError(field: "transaction.payload.vote.producers", reason: "count 31 > 30"))
        let two = Array(producers.prefix(2))
        #expect(signError(.vote(producers: [two[0], two[0]]))
            == DecodeError(field: "transaction.payload.vote.producers[1]", reason: "duplicate"))
        #expect(signError(.vote(producers: [two[1], two[0]]))
            == DecodeError(field: "transaction.payload.vote.producers[1]", reason: "not in ascending order"))
        #expect(signError(.vote(producers: Array(producers.prefix(30)))) == nil)
    }

    @Test func producerTextIsPrintableASCII() {
        let key = TestChain.carol.address
        #expect(signError(.registerProducer(ProducerRegistration(name: "bp\n1", url: "", signingKey: key)))
            == DecodeError(field: "transaction.payload.registerProducer.name", reason: "byte 2 is not printable ASCII"))
        #expect(signError(.registerProducer(ProducerRegistration(name: "bpé", url: "", signingKey: key)))?.field
            == "transaction.payload.registerProducer.name")
        #expect(signError(.registerProducer(ProducerRegistration(name: "", url: "", signingKey: key)))
            == DecodeError(field: "transaction.payload.registerProducer.name", reason: "length 0 < 1"))
        #expect(signError(.registerProducer(ProducerRegistration(name: "bp", url: String(repeating: "u", count: 129), signingKey: key)))
            == DecodeError(field: "transaction.payload.registerProducer.url", reason: "length 129 > 128"))
    }

    @Test func billingPolicyTimeoutRange() {
        let policy = BillingPolicy(pricePerMegabyte: .zero, minimumPrepaid: .zero, sessionTimeoutBlocks: 10)
        #expect(signError(.setBillingPolicy(policy))
            == DecodeError(field: "transaction.payload.setBillingPolicy.sessionTimeoutBlocks", reason: "10 outside 60...2592000"))
    }

    @Test func blockHeaderOptionalIsZeroOrOne() throws {
        let chain = TestChain()
        let block = chain.block([])
        var bytes = block.encoded
        let presence = block.header.canonicalEncoding.count - 1
        #expect(bytes[presence] == 0)
        bytes[presence] = 2
        #expect(decodeError { () throws(DecodeError) in _ = try Block(decoding: bytes) }
            == DecodeError(field: "block.header.justify", reason: "invalid boolean 2"))
    }

    @Test func blockTransactionCountIsBoundedByItsBytes() {
        let chain = TestChain()
        let block = chain.block([])
        var bytes = block.encoded
        let countOffset = block.header.canonicalEncoding.count + 64
        bytes.replaceSubrange(countOffset..<countOffset + 4, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(decodeError { () throws(DecodeError) in _ = try Block(decoding: bytes) }
            == DecodeError(field: "block.transactions", reason: "truncated: 4294967295 elements cannot fit in 0 bytes"))
        #expect(decodeError { () throws(DecodeError) in _ = try Block(decoding: block.encoded + [1]) }
            == DecodeError(field: "block", reason: "1 trailing bytes"))
    }

    @Test func malformedTransactionInsideABlockIsNamedByIndex() {
        var chain = TestChain()
        let good = chain.transaction(from: TestChain.alice, .transfer(to: TestChain.bob.address, amount: qlc(1)))
        var bad = chain.transaction(from: TestChain.alice, .transfer(to: TestChain.bob.address, amount: qlc(1))).encoded
        bad[Self.payloadTagOffset] = 42
        let block = chain.block([])
        var writer = BinaryWriter()
        block.header.encode(to: &writer)
        writer.signature(block.signature)
        writer.list([good.encoded, bad], prefix: .u32) { $0.variable($1) }
        #expect(decodeError { () throws(DecodeError) in _ = try Block(decoding: writer.bytes) }
            == DecodeError(field: "block.transactions[1].payload", reason: "unknown tag 42"))
    }

    @Test func quorumCertificateVotesAreAscendingAndNonEmpty() {
        let block = BlockID(.zero)
        let sorted = [TestChain.alice, TestChain.bob].map(\.address).sorted()
        let signature = Signature(bytes: [UInt8](repeating: 0, count: 64))!
        let unsorted = QuorumCertificate(block: block, height: 1, votes: sorted.reversed().map { ProducerVote(producer: $0, signature: signature) })
        #expect(decodeError { () throws(DecodeError) in _ = try QuorumCertificate(canonical: unsorted.canonicalEncoding, root: "qc") }
            == DecodeError(field: "qc.votes[1]", reason: "not in ascending order"))
        let empty = QuorumCertificate(block: block, height: 1, votes: [])
        #expect(decodeError { () throws(DecodeError) in _ = try QuorumCertificate(canonical: empty.canonicalEncoding, root: "qc") }
            == DecodeError(field: "qc.votes", reason: "count 0 < 1"))
    }

    @Test func genesisBinaryMustBeSorted() {
        let genesis = TestChain.makeGenesis()
        var writer = BinaryWriter()
        writer.text(genesis.chainName)
        writer.u64(genesis.timestampMs)
        genesis.parameters.encode(to: &writer)
        writer.list(genesis.allocations.reversed(), prefix: .u32) {
            $0.address($1.address)
            $0.amount($1.amount)
        }
        writer.list(genesis.producers) {
            $0.address($1.address)
            $1.registration.encode(to: &$0)
        }
        #expect(decodeError { () throws(DecodeError) in _ = try Genesis(decoding: writer.bytes) }
            == DecodeError(field: "genesis.allocations[1]", reason: "not in ascending order"))
    }
}
