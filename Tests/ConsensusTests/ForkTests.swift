import ChainTestSupport
import Consensus
import Crypto
import Ledger
import Testing

/// Competing forks and equivocation.
struct ForkTests {
    /// The first block of each branch above the last block both sides share.
    func forkChildren(_ network: TestNetwork, _ a: Int, _ b: Int) -> (Block, Block)? {
        let chainA = network.chain(a, to: network.engine(a).head.id)
        let chainB = network.chain(b, to: network.engine(b).head.id)
        guard let split = chainA.indices.first(where: { $0 < chainB.count && chainA[$0].id != chainB[$0].id }) else { return nil }
        return (chainA[split], chainB[split])
    }

    @Test func aPartitionWithoutQuorumResolvesByTheEarlierTimestamp() {
        let network = TestNetwork(producers: 4)
        network.run(slots: 8)
        network.link = { from, to in (from < 2) == (to < 2) }
        network.run(slots: 12)
        guard let (left, right) = forkChildren(network, 0, 2) else {
            Issue.record("no fork")
            return
        }
        #expect(network.engine(0).status.highestCertifiedHeight <= 8 && network.engine(2).status.highestCertifiedHeight <= 8)
        let earlier = left.header.timestampMs < right.header.timestampMs ? left : right
        network.link = { _, _ in true }
        for index in 0..<4 { network.sync(index) }
        // No certificate above the fork on either side: the earlier block's branch wins.
        let heads = Set(network.members.map(\.engine.head.id))
        #expect(heads.count == 1)
        #expect(network.chain(0, to: network.engine(0).head.id).contains { $0.id == earlier.id })
        network.run(slots: 16)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        #expect(network.evidence.isEmpty)
        let finalChain = network.engine(0).provider.finalBlocks
        #expect(finalChain.contains { $0.id == earlier.id })
        #expect(!finalChain.contains { $0.id == (earlier.id == left.id ? right.id : left.id) })
        #expect(network.engine(0).final.height >= 20)
        network.expectConsistentFinality()
    }

    @Test func theBranchWithTheHighestCertificateBeatsAnEarlierBlock() {
        let network = TestNetwork(producers: 4)
        network.run(slots: 4)
        network.runUntilNextSlotsBelong(to: 0)
        // Node 0 is cut off just before its two slots: its blocks are the earliest children
        // of the fork point, but only the other three can certify anything.
        network.link = { from, to in (from == 0) == (to == 0) }
        network.run(slots: 8)
        guard let (lone, majority) = forkChildren(network, 0, 1) else {
            Issue.record("no fork")
            return
        }
        #expect(lone.header.producer == TestChain.account(0).address)
        #expect(lone.header.timestampMs < majority.header.timestampMs)
        #expect(network.engine(1).status.highestCertifiedHeight > majority.header.height)
        network.link = { _, _ in true }
        network.sync(0)
        #expect(network.engine(0).head.id == network.engine(1).head.id)
        #expect(network.chain(0, to: network.engine(0).head.id).contains { $0.id == majority.id })
        network.run(slots: 8)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        #expect(!network.engine(0).provider.finalBlocks.contains { $0.id == lone.id })
        #expect(network.engine(0).final.height == network.engine(1).final.height)
        network.expectConsistentFinality()
    }

    @Test func aDoubleProposalIsEvidenceAndAThirdBlockInTheSlotIsRefused() throws {
        let network = TestNetwork(producers: 4)
        network.run(slots: 6)
        network.runUntilNextSlotsBelong(to: 3)
        let first = network.forgeBlock(by: 3)
        let second = network.forgeBlock(by: 3, timestampOffset: 1)
        let third = network.forgeBlock(by: 3, timestampOffset: 2)
        network.advance()
        network.handle([.broadcastBlock(first)], from: -1)
        let votes = (0..<3).map { network.members[$0].persistence.record?.lastVote }
        #expect(votes.allSatisfy { $0?.block == first.id })

        var engine = network.engine(1)
        let actions = try engine.onBlock(second, now: network.now)
        #expect(actions == [.evidence(.doubleProposal(first: SignedHeader(first), second: SignedHeader(second)))],
                "evidence, and no vote: node 1 voted at this height already")
        #expect(engine.tree[second.id] != nil, "kept: fork choice decides, other nodes may have seen it first")
        #expect(engine.head.id == first.id)
        #expect(throws: ProposalRejection.tooManyBlocksInSlot(producer: TestChain.account(3).address, slot: network.slot)) {
            _ = try engine.onBlock(third, now: network.now)
        }

        network.handle([.broadcastBlock(second)], from: -1)
        #expect(network.evidence.count == 4 && network.evidence.allSatisfy { $0.producer == TestChain.account(3).address })
        network.run(slots: 8)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        let finalChain = network.engine(0).provider.finalBlocks
        #expect(finalChain.contains { $0.id == first.id } && !finalChain.contains { $0.id == second.id })
        network.expectConsistentFinality()
    }

    @Test func aDoubleVoteIsEvidenceAndIsNotCounted() throws {
        let network = TestNetwork(producers: 4)
        network.run(slots: 6)
        network.runUntilNextSlotsBelong(to: 3)
        let first = network.forgeBlock(by: 3)
        let second = network.forgeBlock(by: 3, timestampOffset: 1)
        network.advance()
        // Node 2 (and everyone else) hears only the first block and votes for it.
        network.handle([.broadcastBlock(first)], from: -1)
        let honest = try #require(network.members[2].persistence.record?.lastVote)
        #expect(honest.block == first.id)
        // Then node 2's key also signs the second block at the same height.
        var engine = network.engine(0)
        _ = try engine.onBlock(second, now: network.now)
        let double = BlockVote.sign(block: second.id, height: second.header.height, producer: TestChain.account(2).address,
                                    chain: network.genesis.chainID, with: TestChain.signer(2))
        let evidenceBefore = engine.evidence.count
        let actions = try engine.onVote(double)
        #expect(actions == [.evidence(.doubleVote(first: honest, second: double))])
        #expect(engine.evidence.count == evidenceBefore + 1)
        #expect(engine.tree[second.id]?.certificate == nil)
        // Reported once: a repeat is a duplicate of the recorded first vote's height.
        #expect(try engine.onVote(double).isEmpty)
        let forged = BlockVote(block: second.id, height: second.header.height, producer: TestChain.account(1).address,
                               signature: double.signature)
        #expect(throws: VoteRejection.badSignature(TestChain.account(1).address)) { _ = try engine.onVote(forged) }
    }
}
