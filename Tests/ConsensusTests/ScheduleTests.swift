import ChainTestSupport
import Consensus
import Crypto
import Ledger
import Testing

/// Slots, rounds, the shuffle, quorums and vote aggregation, without a network.
struct ScheduleTests {
    let producers = (0..<4).map {
        ScheduledProducer(address: TestChain.account($0).address, signingKey: TestChain.signer($0).address, weight: 0)
    }

    func schedule(round: UInt64 = 0, start: UInt64 = 1, anchor: BlockID = .none) -> Schedule {
        Schedule(round: round, startSlot: start, slotsPerProducer: 2, anchor: anchor,
                 producers: Schedule.shuffle(producers, anchor: anchor, round: round))
    }

    @Test func slotsCountFromTheGenesisInWholeIntervals() {
        let clock = SlotClock(genesisMs: 10_000, intervalMs: 1000)
        #expect(clock.slot(at: 9_999) == nil)
        #expect(clock.slot(at: 10_000) == 0 && clock.slot(at: 10_999) == 0 && clock.slot(at: 11_000) == 1)
        #expect(clock.start(of: 5) == 15_000)
        #expect(clock.contains(slot: 5, timestampMs: 15_000) && clock.contains(slot: 5, timestampMs: 15_999))
        #expect(!clock.contains(slot: 5, timestampMs: 16_000) && !clock.contains(slot: 5, timestampMs: 14_999))
        #expect(clock.start(of: .max) == nil && !clock.contains(slot: .max, timestampMs: .max))
    }

    @Test func quorumIsTwoThirdsPlusOne() {
        let expected = [1: 1, 2: 2, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5, 10: 7, 21: 15]
        for (n, quorum) in expected { #expect(Schedule.quorum(producers: n) == quorum, "n = \(n)") }
        // Two quorums always share more than a third of the producers.
        for n in 1...21 { #expect(2 * Schedule.quorum(producers: n) - n > n / 3) }
    }

    @Test func eachProducerHoldsConsecutiveSlotsAndNothingOutsideTheRound() {
        let round = schedule(start: 9)
        #expect(round.slotCount == 8 && round.endSlot == 17 && round.quorum == 3)
        #expect(round.producer(at: 8) == nil && round.producer(at: 17) == nil)
        for index in 0..<4 {
            let first = round.producer(at: 9 + UInt64(2 * index))
            #expect(first != nil && first == round.producer(at: 10 + UInt64(2 * index)))
        }
        #expect(Set((9...16).compactMap { round.producer(at: $0)?.address }).count == 4)
    }

    @Test func theShuffleIsADeterministicPermutationSeededByAnchorAndRound() {
        let anchor = BlockID(Digest.blake2b256(Array("anchor".utf8)))
        let order = Schedule.shuffle(producers, anchor: anchor, round: 7)
        #expect(order == Schedule.shuffle(producers.reversed(), anchor: anchor, round: 7), "input order does not matter")
        #expect(Set(order) == Set(producers))
        var orders = Set<[ScheduledProducer]>()
        for round in UInt64(0)..<50 { orders.insert(Schedule.shuffle(producers, anchor: anchor, round: round)) }
        #expect(orders.count > 12, "4! = 24 orders, most reached")
        #expect((UInt64(0)..<20).contains {
            Schedule.shuffle(producers, anchor: .none, round: $0) != Schedule.shuffle(producers, anchor: anchor, round: $0)
        }, "another anchor, other orders")
        // Fair: over many rounds every producer starts a round about as often.
        var firsts: [Address: Int] = [:]
        for round in UInt64(0)..<800 { firsts[Schedule.shuffle(producers, anchor: anchor, round: round)[0].address, default: 0] += 1 }
        #expect(firsts.count == 4 && firsts.values.allSatisfy { (140...260).contains($0) }, "\(firsts)")
        // One producer: itself.
        #expect(Schedule.shuffle([producers[0]], anchor: anchor, round: 3) == [producers[0]])
    }

    @Test func roundsWithoutBlocksAreNumberedOn() {
        let elected = Election.elect(InMemoryLedgerState(genesis: TestChain.genesis(producers: 4)), count: 4)
        let first = schedule(start: 1)
        let anchor = BlockID(Digest.blake2b256([1]))
        // Slot 30 skips round 1 (9-16) and round 2 (17-24): it is in round 3 (25-32).
        let later = first.successor(containing: 30, anchor: anchor, elected: elected)
        #expect(later.round == 3 && later.startSlot == 25 && later.anchor == anchor)
        #expect(later.producers == Schedule.shuffle(producers, anchor: anchor, round: 3))
        #expect(first.successor(containing: 9, anchor: anchor, elected: elected).round == 1)
        #expect(first.successor(containing: 16, anchor: anchor, elected: elected).round == 1)
        #expect(first.successor(containing: 17, anchor: anchor, elected: elected).round == 2)
        #expect(first.successor(containing: 32, anchor: anchor, elected: elected).round == 3)
        #expect(first.successor(containing: 33, anchor: anchor, elected: elected).startSlot == 33)
    }

    @Test func theCollectorCertifiesAtQuorumAndCatchesDoubleVotes() throws {
        let round = schedule()
        let chain = ChainID(Digest.blake2b256([42]))
        let block = BlockID(Digest.blake2b256([1])), other = BlockID(Digest.blake2b256([2]))
        func vote(_ index: Int, _ block: BlockID, key: SigningKey? = nil) -> BlockVote {
            BlockVote.sign(block: block, height: 5, producer: TestChain.account(index).address, chain: chain,
                           with: key ?? TestChain.signer(index))
        }
        var collector = VoteCollector()
        #expect(try collector.add(vote(2, block), blockHeight: 5, schedule: round, chain: chain, certified: false) == .counted)
        #expect(throws: VoteRejection.duplicate) {
            _ = try collector.add(vote(2, block), blockHeight: 5, schedule: round, chain: chain, certified: false)
        }
        #expect(throws: VoteRejection.badSignature(TestChain.account(1).address)) {
            _ = try collector.add(vote(1, block, key: TestChain.account(1)), blockHeight: 5, schedule: round, chain: chain,
                                  certified: false)
        }
        #expect(try collector.add(vote(0, block), blockHeight: 5, schedule: round, chain: chain, certified: false) == .counted)
        let outcome = try collector.add(vote(3, block), blockHeight: 5, schedule: round, chain: chain, certified: false)
        guard case let .certified(certificate) = outcome else {
            Issue.record("no certificate: \(outcome)")
            return
        }
        #expect(certificate.votes.map(\.producer) == [0, 2, 3].map { TestChain.account($0).address }.sorted())
        try certificate.verify(chain: chain, blockHeight: 5, schedule: round)
        #expect(try QuorumCertificate(canonical: certificate.canonicalEncoding, root: "qc") == certificate)

        let double = vote(2, other)
        #expect(try collector.add(double, blockHeight: 5, schedule: round, chain: chain, certified: false)
                == .equivocation(.doubleVote(first: vote(2, block), second: double)))
        #expect(try collector.add(vote(2, BlockID(Digest.blake2b256([3]))), blockHeight: 5, schedule: round, chain: chain,
                                  certified: false) == .ignored)

        var unordered = certificate
        unordered.votes.swapAt(0, 1)
        #expect(throws: CertificateRejection.duplicateVoter(unordered.votes[1].producer)) {
            try unordered.verify(chain: chain, blockHeight: 5, schedule: round)
        }
    }

    @Test func pendingVotesAreBounded() {
        var collector = VoteCollector(pendingLimit: 3)
        for index in 0..<5 {
            collector.buffer(BlockVote.sign(block: BlockID(Digest.blake2b256([UInt8(index)])), height: 9,
                                            producer: TestChain.account(0).address, chain: ChainID(.zero), with: TestChain.signer(0)))
        }
        #expect(collector.pendingVotes == 3)
        #expect(collector.takePending(for: BlockID(Digest.blake2b256([0]))).isEmpty, "the oldest went first")
        #expect(collector.takePending(for: BlockID(Digest.blake2b256([4]))).count == 1)
        #expect(collector.pendingVotes == 2)
    }

    @Test func votesAndRecordsRoundTripTheirEncodings() throws {
        let vote = BlockVote.sign(block: BlockID(Digest.blake2b256([1])), height: 77, producer: TestChain.account(1).address,
                                  chain: ChainID(.zero), with: TestChain.signer(1))
        #expect(vote.canonicalEncoding.count == BlockVote.encodedCount)
        #expect(try BlockVote(decoding: vote.canonicalEncoding) == vote)
        #expect(throws: DecodeError.self) { _ = try BlockVote(decoding: vote.canonicalEncoding + [0]) }
        let record = SafetyRecord(lastVote: vote, lockedHeight: 76, producedSlot: 123)
        #expect(try SafetyRecord(canonical: record.canonicalEncoding, root: "record") == record)
        #expect(try SafetyRecord(canonical: SafetyRecord().canonicalEncoding, root: "record") == SafetyRecord())
    }
}
