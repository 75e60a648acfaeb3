#if canImport(Glibc)
import ChainTestSupport
import Glibc
#endif
import Consensus
import Crypto
import Ledger
import Testing

/// The voter's safety rules, vote persistence, restarts and crashes.
struct SafetyTests {
    func vote(_ height: UInt64, _ tag: UInt8 = 0) -> BlockVote {
        BlockVote.sign(block: BlockID(Digest.blake2b256([tag, UInt8(height)])), height: height,
                       producer: TestChain.account(0).address, chain: ChainID(.zero), with: TestChain.signer(0))
    }

    @Test func rulesForbidASecondVoteAtAHeightAVoteBelowTheLockAndASecondBlockInASlot() throws {
        let persistence = InMemoryVotePersistence()
        var rules = SafetyRules()
        try rules.record(vote: vote(5), justifyHeight: 3, producedSlot: 9, to: persistence)
        #expect(persistence.record == rules.record && rules.record.lockedHeight == 3 && rules.record.votedHeight == 5)
        #expect(!rules.allowsVote(height: 5, justifyHeight: 4), "same height")
        #expect(!rules.allowsVote(height: 4, justifyHeight: 4), "lower height")
        #expect(!rules.allowsVote(height: 6, justifyHeight: 2), "below the lock")
        #expect(rules.allowsVote(height: 6, justifyHeight: 3))
        #expect(!rules.allowsProduction(slot: 9) && rules.allowsProduction(slot: 10))
        #expect(throws: SafetyViolation.self) { try rules.record(vote: vote(5, 1), justifyHeight: 3, to: persistence) }
        #expect(throws: SafetyViolation.self) { try rules.record(vote: nil, producedSlot: 8, to: persistence) }
        #expect(persistence.writes == 1, "nothing persisted for a forbidden vote")
        persistence.failing = true
        #expect(throws: VotePersistenceError.self) { try rules.record(vote: vote(6), justifyHeight: 3, to: persistence) }
        #expect(rules.record.votedHeight == 5, "a failed persist changes nothing")
    }

    @Test func theVoteIsPersistedBeforeItIsReturnedAndAFailingPersistMeansNoVote() throws {
        let network = TestNetwork(producers: 4)
        network.run(slots: 4)
        let producer = network.nextProducer()
        let voter = (producer + 1) % 4
        network.advance()
        let produced = network.tick(producer, deliver: false)
        guard case let .broadcastBlock(block) = produced.first else {
            Issue.record("no block: \(produced)")
            return
        }
        // The producer persisted its slot and its own vote before returning them.
        let producerRecord = try #require(network.members[producer].persistence.record)
        #expect(producerRecord.producedSlot == network.slot)
        #expect(produced.contains(.broadcastVote(try #require(producerRecord.lastVote))))

        let persistence = network.members[voter].persistence
        var engine = network.engine(voter)
        let before = engine.safety.record
        let writes = persistence.writes
        persistence.failing = true
        let refused = try engine.onBlock(block, now: network.now)
        #expect(!refused.contains { if case .broadcastVote = $0 { true } else { false } })
        #expect(refused.contains { if case .persistenceFailed = $0 { true } else { false } })
        #expect(engine.safety.record == before && persistence.writes == writes)

        persistence.failing = false
        let retried = engine.onTick(now: network.now + 300)
        let record = try #require(persistence.record?.lastVote)
        #expect(record.block == block.id && persistence.writes == writes + 1)
        #expect(retried == [.broadcastVote(record)])
        #expect(engine.onTick(now: network.now + 400).isEmpty, "one vote per height")
    }

    @Test func aProducerWhosePersistFailsSendsNoBlock() throws {
        let genesis = TestChain.genesis(producers: 1)
        let persistence = InMemoryVotePersistence()
        var engine = try Engine(genesis: genesis, provider: InMemoryStateProvider(genesis: genesis),
                                producer: LocalProducer(account: TestChain.account(0).address, signingKey: TestChain.signer(0)),
                                persistence: persistence)
        persistence.failing = true
        let status = engine.status
        let actions = engine.onTick(now: TestChain.time(slot: 1))
        #expect(actions.count == 1)
        #expect(actions.allSatisfy { if case .persistenceFailed = $0 { true } else { false } })
        #expect(engine.status == status)
        persistence.failing = false
        let retried = engine.onTick(now: TestChain.time(slot: 1) + 500)
        #expect(retried.contains { if case .broadcastBlock = $0 { true } else { false } })
    }

    @Test func theFileRecordSurvivesARestartAndACorruptOneIsRefused() throws {
        var template = Array("/tmp/qlink-consensus-XXXXXX".utf8CString)
        let directory = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        let path = directory + "/safety"
        defer {
            unlink(path)
            rmdir(directory)
        }
        #expect(try FileVotePersistence(path: path).load() == nil)

        let genesis = TestChain.genesis(producers: 1)
        let producer = LocalProducer(account: TestChain.account(0).address, signingKey: TestChain.signer(0))
        var engine = try Engine(genesis: genesis, provider: InMemoryStateProvider(genesis: genesis), producer: producer,
                                persistence: FileVotePersistence(path: path))
        var blocks: [Block] = []
        for slot in UInt64(1)...3 {
            for case let .broadcastBlock(block) in engine.onTick(now: TestChain.time(slot: slot)) { blocks.append(block) }
        }
        let saved = try #require(try FileVotePersistence(path: path).load())
        #expect(saved == engine.safety.record && saved.producedSlot == 3 && saved.votedHeight == 3)

        // Restart in the same slot: replaying the blocks casts no vote, and the slot is not
        // produced again; the next slot is.
        var restarted = try Engine(genesis: genesis, provider: InMemoryStateProvider(genesis: genesis), producer: producer,
                                   persistence: FileVotePersistence(path: path))
        let now = TestChain.time(slot: 3) + 500
        for block in blocks {
            #expect(try restarted.onBlock(block, now: now).allSatisfy { if case .broadcastVote = $0 { false } else { true } })
        }
        #expect(restarted.head.id == blocks.last!.id && restarted.final.height == 2)
        #expect(restarted.onTick(now: now).isEmpty)
        #expect(restarted.onTick(now: TestChain.time(slot: 4)).contains { if case .broadcastBlock = $0 { true } else { false } })

        var bytes = [UInt8](repeating: 0, count: 512)
        let fd = open(path, O_RDWR)
        let count = read(fd, &bytes, bytes.count)
        bytes[count / 2] ^= 0xFF
        _ = pwrite(fd, &bytes, count, 0)
        close(fd)
        #expect(throws: VotePersistenceError.self) { _ = try FileVotePersistence(path: path).load() }
        #expect(throws: VotePersistenceError.self) {
            _ = try Engine(genesis: genesis, provider: InMemoryStateProvider(genesis: genesis), producer: producer,
                           persistence: FileVotePersistence(path: path))
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func crashesAtRandomPointsNeverMakeAProducerContradictItself(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let network = TestNetwork(producers: 4)
        var highest = [UInt64](repeating: 0, count: 4)
        var crashes = 0
        for _ in 0..<60 {
            network.advance()
            for index in 0..<4 {
                switch Int.random(in: 0..<24, using: &random) {
                case 0:  // restart before its clock fires
                    network.crash(index)
                    network.tick(index)
                    crashes += 1
                case 1:  // its tick persisted a block and a vote, then it died before sending
                    network.tick(index, deliver: false)
                    network.crash(index)
                    let again = network.tick(index)
                    #expect(!again.contains { if case .broadcastBlock = $0 { true } else { false } },
                            "a slot is produced once, even across a crash")
                    crashes += 1
                case 2:  // it dies right after taking in the next block, before its vote leaves
                    network.crashOnNextBlock.insert(index)
                    network.tick(index)
                    crashes += 1
                default:
                    network.tick(index)
                }
            }
            for index in 0..<4 {
                let voted = network.members[index].persistence.record?.votedHeight ?? 0
                #expect(voted >= highest[index], "node \(index)'s record went back")
                highest[index] = voted
            }
        }
        network.crashOnNextBlock = []
        network.run(slots: 4)
        #expect(crashes > 5)
        #expect(network.evidence.isEmpty, "\(network.evidence)")
        #expect(network.refusals.isEmpty, "\(network.refusals)")
        let head = network.engine(0).head
        #expect(head.height >= 50)
        #expect(network.engine(0).final.height + 3 >= head.height)
        network.expectConsistentFinality()
    }
}
