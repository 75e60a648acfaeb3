import ChainTestSupport
import Crypto
import Testing
@testable import Ledger

/// Nothing is ever minted or lost: after any sequence of transactions and blocks,
/// valid or not, balances plus locked escrow are exactly 600,000,000 QLC.
struct SupplyConservation {
    static let users = (0..<8).map { testKey(UInt8(120 + $0)) }
    static let stations = [TestChain.station, TestChain.carol]

    static let everyone = users + stations + [TestChain.alice, TestChain.bob]
    static let keys = Dictionary(uniqueKeysWithValues: everyone.map { ($0.address, $0) })

    /// A random transaction: `careful` ones are mostly valid, the others often not
    /// (overspends, stale nonces, strangers settling or closing other people's sessions).
    static func randomTransaction(_ chain: inout TestChain, _ sessions: [SessionID], careful: Bool,
                                  using generator: inout SeededGenerator) -> SignedTransaction {
        var sender = everyone.randomElement(using: &generator)!
        let other = everyone.randomElement(using: &generator)!
        let sloppy = !careful && Bool.random(using: &generator)
        let amount = Amount(units: UInt64.random(in: 0...(sloppy ? 1 << 40 : 1 << 28), using: &generator))
        let fee = Amount(units: UInt64.random(in: (sloppy ? 900 : 1000)...5000, using: &generator))
        let open = sessions.compactMap { chain.state.session($0) }
        let payload: TransactionPayload
        switch Int.random(in: 0..<10, using: &generator) {
        case 0..<3: payload = .transfer(to: other.address, amount: amount)
        case 3: payload = .vote(producers: [TestChain.producer.address])
        case 4: payload = .setBillingPolicy(BillingPolicy(pricePerMegabyte: Amount(units: 1000), minimumPrepaid: Amount(units: 1000),
                                                          sessionTimeoutBlocks: 60))
        case 5: payload = .openSession(station: stations.randomElement(using: &generator)!.address, escrow: amount)
        case 6..<8 where !open.isEmpty:
            let session = open.randomElement(using: &generator)!
            sender = sloppy ? other : keys[session.station]!
            let bytes = session.settledBytes + UInt64.random(in: (sloppy ? 0 : 1)...1_000_000_000, using: &generator)
            let charge = session.pricePerMegabyte.charge(forBytes: bytes)!
            let ceiling = min(charge.units, session.settledAmount.units + session.escrow.units + (sloppy ? 1000 : 0))
            let paid = UInt64.random(in: min(session.settledAmount.units, ceiling)...ceiling, using: &generator)
            let receipt = SessionReceipt(session: session.id, subscriber: session.subscriber, cumulativeBytes: bytes,
                                         cumulativeAmount: Amount(units: paid))
            payload = .settleSession(receipt.signed(with: sloppy ? other : keys[session.subscriber]!, chain: chain.chainID))
        case 8 where !open.isEmpty:
            let session = open.randomElement(using: &generator)!
            sender = sloppy ? other : keys[session.station]!
            payload = .closeSession(session.id)
        default: payload = .registerAsset(sampleAsset(mac: UInt8.random(in: 2...200, using: &generator)))
        }
        let nonce: UInt64? = sloppy && Int.random(in: 0..<8, using: &generator) == 0 ? UInt64.random(in: 0...3, using: &generator) : nil
        return chain.transaction(from: sender, payload, nonce: nonce, fee: fee)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomTrafficConservesTheSupply(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        var chain = TestChain()
        for (index, user) in Self.users.enumerated() {
            try chain.submit(from: TestChain.treasury, .transfer(to: user.address, amount: qlc(UInt64(10 + index * 5))))
        }
        var sessions: [SessionID] = []
        var accepted = 0, rejected = 0, blocksAccepted = 0
        var settled = 0
        for round in 0..<60 {
            chain.height += 1
            if round % 4 == 3 {
                let transactions = (0..<6).map { _ in Self.randomTransaction(&chain, sessions, careful: true, using: &generator) }
                let before = chain.state
                do {
                    try chain.machine.applyBlock(chain.block(transactions), to: &chain.state)
                    blocksAccepted += 1
                    for transaction in transactions where transaction.body.payload.name == "openSession" {
                        sessions.append(transaction.id)
                    }
                } catch {
                    #expect(chain.state == before)
                }
                chain.resetNonces()
            } else {
                for _ in 0..<25 {
                    let transaction = Self.randomTransaction(&chain, sessions, careful: false, using: &generator)
                    do {
                        try chain.apply(transaction)
                        accepted += 1
                        if case .openSession = transaction.body.payload { sessions.append(transaction.id) }
                        if case .settleSession = transaction.body.payload { settled += 1 }
                    } catch {
                        rejected += 1
                    }
                }
            }
            #expect(chain.state.heldSupply() == Amount.totalSupply, "round \(round)")
        }
        #expect(accepted > 300 && rejected > 100, "accepted \(accepted), rejected \(rejected)")
        #expect(settled > 10 && blocksAccepted > 3, "settled \(settled), blocks \(blocksAccepted)")
        var escrow = Amount.zero
        chain.state.forEachSession { escrow = escrow.adding($0.escrow)! }
        var balances = Amount.zero
        chain.state.forEachAccount { _, account in balances = balances.adding(account.balance)! }
        #expect(balances.adding(escrow) == Amount.totalSupply)
    }
}
