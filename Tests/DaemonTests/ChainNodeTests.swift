import ChainStore
import Consensus
import Control
import Crypto
import Ledger
import Logging
import Posix
import Testing
@testable import Daemon

/// The daemon's chain node on a simulated clock: a single-station chain that produces a
/// block a slot, a mempool that refuses what the head state refuses (naming the field),
/// and restarts that come back to the same head.
struct ChainNodeTests {
    @Test func aSingleStationChainProducesEverySlotAndFinalityFollows() throws {
        let h = try ChainNodeHarness()
        h.advance(5)
        let status = h.node.statusReport
        #expect(status.height == 5)
        #expect(status.finalHeight == 4)
        #expect(status.producers == [h.station.description])
        #expect(!status.syncing && status.peers == 0)
        #expect(h.node.store.head.height == 4 && h.node.store.finalHeight == 4)
        let block = try #require(try h.node.blockReport(height: 5))
        #expect(!block.final && block.justifyHeight == 4 && block.producer == h.station.description)
        #expect(try h.node.blockReport(height: 4)?.final == true)
        #expect(try h.node.blockReport(height: 6) == nil)
    }

    @Test func theMempoolRefusesWhatTheHeadStateRefusesNamingTheField() throws {
        let h = try ChainNodeHarness()
        h.advance(2)
        let other = SigningKey(seed: [UInt8](repeating: 0x77, count: 32))!
        let recipient = Address(other.publicKey)
        func refusal(_ bytes: [UInt8]) -> String {
            guard case let .failure(error) = h.node.submit(bytes) else { return "accepted" }
            return error.description
        }
        #expect(refusal([1, 2, 3]).hasPrefix("malformed: transaction.chain: truncated"))
        #expect(refusal(h.transfer(to: recipient, amount: .qlc(5)!, nonce: 1, fee: Amount(units: 1)).encoded)
            .hasPrefix("rejected: fee: 0.00000001 QLC < required"))
        #expect(refusal(h.transfer(to: recipient, amount: .qlc(5)!, nonce: 2).encoded).hasPrefix("rejected: nonce: 2 is ahead"))
        #expect(refusal(h.transfer(from: other, to: h.station, amount: .qlc(1)!, nonce: 1).encoded)
            .hasPrefix("rejected: sender: account \(recipient) needs"))
        #expect(refusal(h.transfer(to: recipient, amount: .qlc(5)!, nonce: 1, chain: ChainID(.zero)).encoded)
            .hasPrefix("rejected: chain: "))
        var forged = h.transfer(to: recipient, amount: .qlc(5)!, nonce: 1).encoded
        forged[forged.count - 1] ^= 1
        #expect(refusal(forged) == "rejected: signature: invalid")
        #expect(refusal(h.transfer(to: recipient, amount: .zero, nonce: 1).encoded)
            == "rejected: payload.transfer.amount: must be positive")
        #expect(h.node.mempool.count == 0)

        // Two in a row from one sender: the second is checked on top of the first.
        let first = h.transfer(to: recipient, amount: .qlc(5)!, nonce: 1)
        let second = h.transfer(to: recipient, amount: .qlc(7)!, nonce: 2)
        #expect(try h.node.submit(first.encoded).get().id == first.id)
        #expect(refusal(first.encoded) == "transaction \(first.id) is already in the mempool")
        #expect(try h.node.submit(second.encoded).get().id == second.id)
        #expect(refusal(h.transfer(to: recipient, amount: .qlc(1)!, nonce: 2).encoded).hasPrefix("rejected: nonce: 2 replayed"))

        h.advance(1)
        let block = try #require(try h.node.blockReport(height: 3))
        #expect(block.transactions == [first.id.description, second.id.description])
        #expect(h.node.mempool.count == 0)
        #expect(h.account(recipient).balance == "12.00000000")
        #expect(h.account(recipient).balanceUnits == 1_200_000_000)
        // Fees go to the producer: the station pays them to itself.
        #expect(h.account(h.station).balance == "599999988.00000000")
        #expect(h.account(h.station).nonce == 2)
        h.advance(1)
        #expect(try h.node.blockReport(height: 3)?.final == true)
        #expect(h.node.store.state.account(recipient)?.balance == .qlc(12))
    }

    @Test func aFullMempoolRefusesMore() throws {
        let h = try ChainNodeHarness(mempool: 2)
        h.advance(1)
        let to = Address(SigningKey(seed: [UInt8](repeating: 9, count: 32))!.publicKey)
        for nonce in 1...2 { _ = try h.node.submit(h.transfer(to: to, amount: .qlc(1)!, nonce: UInt64(nonce)).encoded).get() }
        guard case let .failure(error) = h.node.submit(h.transfer(to: to, amount: .qlc(1)!, nonce: 3).encoded) else {
            Issue.record("a third transaction was taken")
            return
        }
        #expect(error.description.hasPrefix("mempool full (2 transactions)"))
        h.advance(1)
        #expect(h.node.mempool.count == 0)
        #expect(try h.node.submit(h.transfer(to: to, amount: .qlc(1)!, nonce: 3).encoded).get().body.nonce == 3)
    }

    @Test func aRestartComesBackToTheSameHeadAndStateAndGoesOn() throws {
        let h = try ChainNodeHarness()
        h.advance(3)
        let to = Address(SigningKey(seed: [UInt8](repeating: 3, count: 32))!.publicKey)
        _ = try h.node.submit(h.transfer(to: to, amount: .qlc(42)!, nonce: 1).encoded).get()
        h.advance(20)
        let before = h.node.statusReport
        let balance = h.account(to)
        #expect(before.height == 23 && before.finalHeight == 22)
        try h.restart()
        let after = h.node.statusReport
        #expect(after == before)
        #expect(h.account(to) == balance)
        #expect(h.log.contains("replayed 22 stored blocks"))
        h.advance(2)
        #expect(h.node.statusReport.height == 25)
        #expect(h.node.statusReport.finalHeight == 24)
        // The same history: block 23 (pending at the restart) is now final in the store.
        #expect(try h.node.store.block(at: 23)?.id.description == before.head)
    }

    /// A crash between writing the pending blocks and the safety record: the newest block
    /// is back, its vote is not, and the station votes for it again (or goes past it).
    @Test func aCrashBeforeTheVoteIsRecordedResumes() throws {
        let h = try ChainNodeHarness()
        h.advance(5)
        let vote = try FileSystem.readFile("\(h.dir.path)/chain/vote")
        h.advance(1)
        h.node.close()
        try FileSystem.writeDurably("\(h.dir.path)/chain/vote", vote)
        try h.restart()
        #expect(h.node.statusReport.height == 6)
        h.advance(3)
        #expect(h.node.statusReport.height == 9)
        #expect(h.node.statusReport.finalHeight == 8)
    }

    /// A crash while the pending blocks were rewritten (a torn file): the block made final in
    /// that step is in the store, the newer one is lost with its vote, and the chain goes on.
    @Test func aTornPendingFileLosesOnlyTheNewestBlock() throws {
        let h = try ChainNodeHarness()
        h.advance(6)
        let vote = try FileSystem.readFile("\(h.dir.path)/chain/vote")
        h.advance(1)
        h.node.close()
        try FileSystem.writeDurably("\(h.dir.path)/chain/vote", vote)
        try FileSystem.writeDurably("\(h.dir.path)/chain/pending", Array("qlink/pending/v1 torn".utf8))
        try h.restart()
        #expect(h.node.statusReport.height == 6)
        #expect(h.log.contains("pending blocks not used"))
        h.advance(3)
        #expect(h.node.statusReport.height == 9)
        #expect(h.node.statusReport.finalHeight == 8)
        #expect(!h.node.provider.replaying)
    }
}

/// A single-station chain node in a temporary directory, driven on a simulated clock.
final class ChainNodeHarness {
    static let genesisTime: UInt64 = 1_795_000_000_000
    let dir: TemporaryDirectory
    let key: SigningKey
    let genesis: Genesis
    let log = InMemoryLogHandler()
    var node: ChainNode
    /// The last slot ticked.
    private(set) var slot: UInt64 = 0

    init(mempool: Int = 4096) throws {
        dir = try TemporaryDirectory()
        key = SigningKey(seed: [UInt8](repeating: 0x51, count: 32))!
        genesis = ChainGenesis.singleStation(key: key, stationName: "test", timestampMs: Self.genesisTime)
        node = try ChainNode(genesis: genesis, directory: "\(dir.path)/chain", key: key, mempoolCapacity: mempool,
                             logger: Logger(label: "chain", level: .debug, handler: log))
    }

    var station: Address { Address(key.publicKey) }

    /// 150 ms into `slot`.
    func time(ofSlot slot: UInt64) -> UInt64 { Self.genesisTime + slot * 1000 + 150 }

    /// Ticks the next `count` slots.
    func advance(_ count: Int) {
        for _ in 0..<count {
            slot += 1
            node.tick(now: time(ofSlot: slot))
        }
    }

    /// Closes the node and opens it again on the same files, replaying them.
    func restart(mempool: Int = 4096) throws {
        node.close()
        node = try ChainNode(genesis: genesis, directory: "\(dir.path)/chain", key: key, mempoolCapacity: mempool,
                             logger: Logger(label: "chain", level: .debug, handler: log))
        while try !node.replay(maxBlocks: 1000, now: time(ofSlot: slot + 1)) {}
    }

    /// A signed transfer from `from` (nonce, fee) to `to`.
    func transfer(from: SigningKey? = nil, to: Address, amount: Amount, nonce: UInt64,
                  fee: Amount = Amount(units: 10_000), chain: ChainID? = nil) -> SignedTransaction {
        let sender = from ?? key
        let body = TransactionBody(chain: chain ?? genesis.chainID, sender: Address(sender.publicKey), nonce: nonce, fee: fee,
                                   payload: .transfer(to: to, amount: amount))
        return try! SignedTransaction.sign(body, with: sender)
    }

    func account(_ address: Address) -> ChainAccountReport { node.accountReport(address)! }
}
