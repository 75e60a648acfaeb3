import ChainTestSupport
import Consensus
import Crypto
import Ledger
import Testing

/// Bad blocks and votes are refused with a typed reason and change nothing.
struct RejectionTests {
    /// A 4-producer network after 6 slots, with small blocks so "oversized" is cheap.
    let network: TestNetwork
    let slot: UInt64
    let now: UInt64
    let producer: Int
    let other: Int

    init() throws {
        let genesis = TestChain.genesis(producers: 4, maxBlockBytes: 2048)
        network = TestNetwork(genesis: genesis, producers: 4)
        network.run(slots: 6)
        slot = network.slot + 1
        now = TestChain.time(slot: slot)
        producer = network.nextProducer()
        other = (producer + 1) % 4
    }

    var engine: Engine { network.engine(0) }
    var head: TreeNode { engine.head }
    var justify: QuorumCertificate? { engine.tree.highestCertified(onBranchOf: head.id).certificate }

    func block(producer: Int? = nil, signer: Int? = nil, chain: ChainID? = nil, height: UInt64? = nil,
               parent: BlockID? = nil, slot: UInt64? = nil, timestampMs: UInt64? = nil,
               justify: QuorumCertificate?? = nil, transactions: [SignedTransaction] = []) -> Block {
        let slot = slot ?? self.slot
        let header = BlockHeader(chain: chain ?? network.genesis.chainID, height: height ?? head.height + 1,
                                 parent: parent ?? head.id, timestampMs: timestampMs ?? TestChain.time(slot: slot),
                                 slot: slot, producer: TestChain.account(producer ?? self.producer).address,
                                 justify: justify ?? self.justify)
        return try! Block.assemble(header: header, transactions: transactions,
                                   signer: TestChain.signer(signer ?? producer ?? self.producer))
    }

    /// Feeds `block` to a copy of node 0 and checks it is refused with `reason`, unchanged.
    func expectRefused(_ block: Block, _ reason: ProposalRejection, sourceLocation: SourceLocation = #_sourceLocation) {
        var copy = engine
        let status = copy.status, state = copy.provider.finalState
        do {
            let actions = try copy.onBlock(block, now: now)
            Issue.record("accepted: \(actions)", sourceLocation: sourceLocation)
        } catch {
            #expect(error == reason, sourceLocation: sourceLocation)
            #expect(!error.description.isEmpty, sourceLocation: sourceLocation)
        }
        #expect(copy.status == status, sourceLocation: sourceLocation)
        #expect(copy.provider.finalState == state, sourceLocation: sourceLocation)
        #expect(copy.collector.pendingVotes == engine.collector.pendingVotes, sourceLocation: sourceLocation)
    }

    @Test func theTemplateBlockIsAccepted() throws {
        var copy = engine
        _ = try copy.onBlock(block(), now: now)
        #expect(copy.head.height == head.height + 1)
    }

    @Test func headerRulesRefuseWithTypedReasons() throws {
        let chain = network.genesis.chainID
        let otherGenesis = TestChain.genesis(producers: 4, name: "another-chain")
        expectRefused(block(chain: otherGenesis.chainID), .wrongChain(expected: chain, found: otherGenesis.chainID))
        expectRefused(block(producer: other), .wrongProducer(slot: slot, expected: TestChain.account(producer).address,
                                                             found: TestChain.account(other).address))
        expectRefused(block(signer: other), .badProducerSignature(TestChain.account(producer).address))
        expectRefused(block(height: head.height + 2), .wrongHeight(height: head.height + 2, parentHeight: head.height))
        let unknown = BlockID(Digest.blake2b256([1, 2, 3]))
        expectRefused(block(parent: unknown), .unknownParent(unknown))
        expectRefused(block(slot: head.slot, timestampMs: TestChain.time(slot: head.slot)),
                      .slotNotAfterParent(slot: head.slot, parentSlot: head.slot))
        let late = TestChain.time(slot: slot + 1)
        expectRefused(block(timestampMs: late), .timestampOutsideSlot(timestampMs: late, slot: slot))
        let future = TestChain.time(slot: slot + 2)
        expectRefused(block(slot: slot + 2), .fromTheFuture(timestampMs: future, nowMs: now))
        let replay = try #require(head.block)
        expectRefused(replay, .duplicate(replay.id))
        let finalReplay = try #require(engine.provider.finalBlocks.last)
        expectRefused(finalReplay, .duplicate(finalReplay.id))
        let stale = block(height: 1, parent: .none, slot: 1, timestampMs: TestChain.time(slot: 1), justify: .some(nil))
        expectRefused(stale, .notAboveFinal(height: 1, finalHeight: engine.final.height))
    }

    @Test func badCertificatesAreRefused() throws {
        let certificate = try #require(justify)
        #expect(certificate.votes.count >= 3)
        var tampered = certificate
        tampered.votes[1].signature = certificate.votes[0].signature
        expectRefused(block(justify: tampered), .badJustify(.badSignature(certificate.votes[1].producer)))
        var short = certificate
        short.votes.removeLast(short.votes.count - 2)
        expectRefused(block(justify: short), .badJustify(.tooFewVotes(count: 2, quorum: 3)))
        let outsider = testKey(150)
        var stranger = certificate
        stranger.votes[0] = ProducerVote(producer: outsider.address, signature: Signature(
            signing: QuorumCertificate.voteDigest(chain: network.genesis.chainID, block: certificate.block,
                                                  height: certificate.height), with: outsider))
        stranger.votes.sort { $0.producer < $1.producer }
        expectRefused(block(justify: stranger), .badJustify(.notAProducer(outsider.address)))
        var wrongHeight = certificate
        wrongHeight.height += 1
        expectRefused(block(justify: wrongHeight), .badJustify(.heightMismatch(certificate: wrongHeight.height,
                                                                                block: certificate.height)))
        var elsewhere = certificate
        elsewhere.block = BlockID(Digest.blake2b256([9]))
        expectRefused(block(justify: elsewhere), .justifyNotAncestor(elsewhere.block))
    }

    @Test func badContentIsRefusedAndOversizedBeforeAnythingElse() throws {
        let genesis = network.genesis
        let replayed = TestChain.transaction(genesis, from: TestChain.alice, nonce: 3,
                                             .transfer(to: TestChain.treasury.address, amount: qlc(1)))
        let bad = block(transactions: [replayed])
        expectRefused(bad, .invalid(.transaction(index: 0, id: replayed.id, reason: .futureNonce(
            account: TestChain.alice.address, nonce: 3, expected: 1))))
        let many = (1...16).map { nonce in
            TestChain.transaction(genesis, from: TestChain.alice, nonce: UInt64(nonce),
                                  .transfer(to: TestChain.treasury.address, amount: qlc(1)))
        }
        let big = block(signer: other, transactions: many)
        expectRefused(big, .oversized(bytes: big.encoded.count, limit: 2048))
        var copy = engine
        #expect(throws: ProposalRejection.self) { _ = try copy.onBlock(bytes: [1, 2, 3], now: now) }
        #expect(copy.status == engine.status)
    }

    @Test func badVotesAreRefusedAndChangeNothing() throws {
        var copy = engine
        let target = try #require(head.block)
        let chain = network.genesis.chainID
        let status = copy.status
        let valid = BlockVote.sign(block: target.id, height: target.header.height, producer: TestChain.account(1).address,
                                   chain: chain, with: TestChain.signer(1))
        #expect(throws: VoteRejection.duplicate) { _ = try copy.onVote(valid) }
        let wrongKey = BlockVote.sign(block: target.id, height: target.header.height,
                                      producer: TestChain.account(1).address, chain: chain, with: TestChain.account(1))
        #expect(throws: VoteRejection.duplicate, "counted already: not even verified") { _ = try copy.onVote(wrongKey) }
        let outsider = BlockVote.sign(block: target.id, height: target.header.height, producer: testKey(150).address,
                                      chain: chain, with: testKey(150))
        #expect(throws: VoteRejection.notAProducer(testKey(150).address)) { _ = try copy.onVote(outsider) }
        let mismatched = BlockVote.sign(block: target.id, height: target.header.height + 5,
                                        producer: TestChain.account(1).address, chain: chain, with: TestChain.signer(1))
        #expect(throws: VoteRejection.heightMismatch(vote: target.header.height + 5, block: target.header.height)) {
            _ = try copy.onVote(mismatched)
        }
        let old = BlockVote.sign(block: target.header.parent, height: 1, producer: TestChain.account(1).address,
                                 chain: chain, with: TestChain.signer(1))
        #expect(throws: VoteRejection.stale(height: 1, finalHeight: copy.final.height)) { _ = try copy.onVote(old) }
        #expect(throws: VoteRejection.self) { _ = try copy.onVote(bytes: Array(repeating: 0, count: 135)) }
        #expect(copy.status == status)
        // A vote for a block not seen yet waits, bounded.
        let unseen = BlockVote.sign(block: BlockID(Digest.blake2b256([7])), height: head.height + 1,
                                    producer: TestChain.account(1).address, chain: chain, with: TestChain.signer(1))
        #expect(try copy.onVote(unseen).isEmpty)
        #expect(copy.collector.pendingVotes == 1)
        // A vote signed with the account key instead of the registered signing key.
        var fresh = engine
        let next = block()
        _ = try fresh.onBlock(next, now: now)
        let forged = BlockVote.sign(block: next.id, height: next.header.height, producer: TestChain.account(1).address,
                                    chain: chain, with: TestChain.account(1))
        let before = fresh.status
        #expect(throws: VoteRejection.badSignature(TestChain.account(1).address)) { _ = try fresh.onVote(forged) }
        #expect(fresh.status == before && fresh.tree[next.id]?.certificate == nil)
    }
}
