import ChainTestSupport
import Consensus
import Crypto
import Ledger
import Testing

/// Elections: the set changes only at a round boundary, from final state.
struct ProducerSetTests {
    struct Observed {
        let block: Block
        let schedule: Schedule
    }

    @Test func aVoteChangesTheSetFromTheNextRoundOnly() throws {
        // Five registered producers, four elected: at first nobody has stake behind them,
        // so the four lowest addresses produce.
        let genesis = TestChain.genesis(producers: 5, elected: 4)
        let network = TestNetwork(genesis: genesis, producers: 5)
        let first = try network.engine(0).schedule(forSlot: 1)
        let initial = Set(first.producers.map(\.address))
        let outsider = try #require((0..<5).map { TestChain.account($0).address }.first { !initial.contains($0) })
        #expect(outsider == (0..<5).map { TestChain.account($0).address }.max())
        // Once the treasury's stake backs the outsider, it tops the tally and the highest
        // address among the initial four drops out.
        let dropped = try #require(initial.max())

        var observed: [Observed] = []
        func run(_ slots: Int) {
            for _ in 0..<slots {
                network.run(slots: 1)
                let head = network.engine(0).head
                if let block = head.block, block.header.slot == network.slot {
                    observed.append(Observed(block: block, schedule: head.schedule))
                }
            }
        }
        run(3)
        network.mempool.pending = [TestChain.transaction(genesis, from: TestChain.treasury, nonce: 1,
                                                         .vote(producers: [outsider]))]
        run(29)
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        #expect(network.mempool.pending.isEmpty)

        let voteBlock = try #require(observed.first { !$0.block.transactions.isEmpty })
        let voteHeight = voteBlock.block.header.height
        #expect(!voteBlock.schedule.producers.contains { $0.address == outsider },
                "the round holding the vote keeps its set")

        // Every round has one schedule; blocks follow it.
        let rounds = Dictionary(grouping: observed, by: \.schedule.round)
        for (round, blocks) in rounds {
            #expect(Set(blocks.map(\.schedule)).count == 1, "round \(round) changed its schedule mid-round")
            for item in blocks {
                #expect(item.schedule.producer(at: item.block.header.slot)?.address == item.block.header.producer)
            }
        }

        // The first round with the outsider is anchored at a final block at or above the vote.
        let ordered = rounds.keys.sorted()
        let changed = try #require(ordered.first { rounds[$0]![0].schedule.member(outsider) != nil })
        #expect(changed > voteBlock.schedule.round)
        let anchor = rounds[changed]![0].schedule.anchor
        let finalChain = network.engine(0).provider.finalBlocks
        let anchorBlock = try #require(finalChain.first { $0.id == anchor })
        #expect(anchorBlock.header.height >= voteHeight)
        for round in ordered {
            let schedule = rounds[round]![0].schedule
            #expect((schedule.member(outsider) != nil) == (round >= changed), "round \(round)")
            #expect((schedule.member(dropped) == nil) == (round >= changed), "round \(round)")
        }
        // The new producer produces, the dropped one stops, and finality goes on.
        let after = observed.filter { $0.schedule.round >= changed }
        #expect(after.contains { $0.block.header.producer == outsider })
        #expect(!after.contains { $0.block.header.producer == dropped })
        #expect(network.engine(0).final.height == network.engine(0).head.height - 1)
        #expect(network.evidence.isEmpty)
        network.expectConsistentFinality()
    }

    @Test func theShuffleComesFromTheAnchorAndTheRound() throws {
        let network = TestNetwork(producers: 4)
        network.run(slots: 30)
        let rounds = Dictionary(grouping: network.chain(0, to: network.engine(0).head.id), by: { ($0.header.slot - 1) / 8 })
        // Round r ≥ 1 is anchored at a final block; the order is the documented shuffle of it.
        let schedule = network.engine(0).head.schedule
        #expect(schedule.round == 3 && schedule.anchor != .none)
        let expected = Schedule.shuffle(schedule.producers, anchor: schedule.anchor, round: schedule.round)
        #expect(expected == schedule.producers)
        let producers = rounds[3]!.sorted { $0.header.slot < $1.header.slot }.map(\.header.producer)
        #expect(producers == schedule.producers.flatMap { [$0.address, $0.address] }.prefix(producers.count).map { $0 })
    }
}
