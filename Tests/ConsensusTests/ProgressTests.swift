import ChainTestSupport
import Consensus
import Crypto
import Ledger
import Testing

/// Normal operation and liveness with producers missing, on a manual clock.
struct ProgressTests {
    @Test func fourProducersProduceEverySlotAndFinalizeByTheTwoChainRule() {
        let network = TestNetwork(producers: 4)
        network.run(slots: 40)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        #expect(network.evidence.isEmpty)
        let head = network.engine(0).head
        #expect(head.height == 40 && head.slot == 40)
        // Block h is final once block h+1 (which carries QC(h)) is certified: after slot 40, 39.
        #expect(network.finalHeights == [39, 39, 39, 39])
        #expect(Set(network.members.map(\.engine.head.id)).count == 1)
        network.expectConsistentFinality()
        #expect(network.finalized.allSatisfy { $0.map(\.header.height) == Array(1...39) })

        // Every block is by its slot's producer; each producer holds two consecutive slots a
        // round, and all four appear in every round.
        let chain = network.chain(0, to: head.id)
        var rounds: [UInt64: [Address]] = [:]
        for (index, block) in chain.enumerated() where index + 1 < chain.count {
            // Justify of each block certifies its parent (everyone is live).
            #expect(chain[index + 1].header.justify?.block == block.id)
        }
        for block in chain {
            rounds[(block.header.slot - 1) / 8, default: []].append(block.header.producer)
        }
        for (round, producers) in rounds where producers.count == 8 {
            #expect(Set(producers).count == 4, "round \(round)")
            for pair in stride(from: 0, to: 8, by: 2) {
                #expect(producers[pair] == producers[pair + 1], "round \(round): slots not held in pairs")
            }
        }
        // The order changes between rounds (shuffled from the anchor).
        let orders = Set(rounds.values.filter { $0.count == 8 }.map { $0 })
        #expect(orders.count > 1)
    }

    @Test func missedSlotsLeaveGapsButHeightsAndFinalityContinue() {
        let network = TestNetwork(producers: 4)
        network.run(slots: 8)
        network.members[2].muted = true
        network.run(slots: 16)
        network.members[2].muted = false
        network.run(slots: 8)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        let head = network.engine(0).head
        let chain = network.chain(0, to: head.id)
        let missed = 32 - chain.count
        #expect(missed == 4, "two rounds of node 2's two slots")
        #expect(chain.map(\.header.height) == Array(1...UInt64(chain.count)))
        #expect(!chain.contains { $0.header.producer == TestChain.account(2).address && (9...24).contains($0.header.slot) })
        #expect(network.finalHeights.allSatisfy { $0 == head.height - 1 })
        network.expectConsistentFinality()
    }

    @Test func oneProducerOfflineChainAndFinalityContinueWithThreeOfFour() {
        let network = TestNetwork(producers: 4)
        network.run(slots: 8)
        network.disconnect(3)
        network.run(slots: 24)
        let head = network.engine(0).head
        #expect(head.height == 8 + 18, "three of four producers: 18 of 24 slots")
        #expect(network.engine(0).final.height == head.height - 1, "quorum(4) = 3 live voters")
        #expect(network.engine(3).final.height <= 7)
        network.reconnect(3)
        network.run(slots: 8)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        let heights = network.members.map(\.engine.final.height)
        #expect(Set(heights).count == 1 && heights[0] == network.engine(0).head.height - 1)
        network.expectConsistentFinality()
    }

    @Test func twoProducersOfflineBlocksContinueFinalityStopsThenResumes() {
        let network = TestNetwork(producers: 4)
        network.run(slots: 8)
        let finalBefore = network.engine(0).final.height
        network.disconnect(1)
        network.disconnect(2)
        network.run(slots: 24)
        let stalledHead = network.engine(0).head
        #expect(stalledHead.height == 8 + 12, "two of four producers: 12 of 24 slots")
        // No quorum: nothing after the outage is final (the last certified pair may still close).
        #expect(network.engine(0).final.height <= finalBefore + 1)
        #expect(network.engine(0).status.highestCertifiedHeight <= 8)
        let finalDuringOutage = network.engine(0).final.height
        network.reconnect(1)
        network.reconnect(2)
        network.run(slots: 6)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        let head = network.engine(0).head
        #expect(head.height > stalledHead.height)
        #expect(network.engine(0).final.height > stalledHead.height, "finality resumes and catches up")
        #expect(network.engine(0).final.height > finalDuringOutage)
        #expect(Set(network.members.map(\.engine.final.id)).count == 1)
        network.expectConsistentFinality()
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7] as [Int])
    func finalityResumesAfterAnOutageLongerThanTheFinalHistory(offset: Int) {
        // Only 4 final blocks are remembered, the outage lasts longer, and the recovery
        // lands at every position of a round: anchors still in use are never forgotten.
        let network = TestNetwork(genesis: TestChain.genesis(producers: 4), producers: 4,
                                  configuration: ConsensusConfiguration(finalHistory: 4))
        network.run(slots: 8 + offset)
        network.disconnect(1)
        network.disconnect(2)
        network.run(slots: 24)
        network.reconnect(1)
        network.reconnect(2)
        network.run(slots: 24)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        let head = network.engine(0).head
        #expect(network.engine(0).final.height + 1 == head.height)
        #expect(head.slot == network.slot || head.slot + 1 == network.slot)
        network.expectConsistentFinality()
    }

    @Test func singleStationChainProducesEverySlotAndFinalizesEachBlockAtTheNext() throws {
        let genesis = TestChain.genesis(producers: 1)
        let persistence = InMemoryVotePersistence()
        var engine = try Engine(genesis: genesis, provider: InMemoryStateProvider(genesis: genesis),
                                producer: LocalProducer(account: TestChain.account(0).address, signingKey: TestChain.signer(0)),
                                persistence: persistence)
        #expect(try engine.schedule(forSlot: 1).quorum == 1)
        #expect(engine.onTick(now: TestChain.genesisMs + 500).isEmpty, "slot 0 belongs to the genesis")
        for slot in UInt64(1)...10 {
            let actions = engine.onTick(now: TestChain.time(slot: slot))
            guard case let .broadcastBlock(block) = actions.first else {
                Issue.record("slot \(slot): no block in \(actions)")
                return
            }
            #expect(block.header.slot == slot && block.header.height == slot)
            #expect(actions.contains(.broadcastVote(persistence.record!.lastVote!)))
            #expect(persistence.record?.lastVote?.block == block.id)
            let finalized = actions.compactMap { if case let .finalized(blocks) = $0 { blocks } else { nil } }.flatMap { $0 }
            #expect(finalized.map(\.header.height) == (slot >= 2 ? [slot - 1] : []))
            #expect(engine.final.height == slot - 1)
            // A second tick in the same slot produces nothing.
            #expect(engine.onTick(now: TestChain.time(slot: slot) + 400).isEmpty)
        }
        #expect(engine.provider.finalBlocks.count == 9)
        #expect(engine.tree.count == 1)
    }
}
