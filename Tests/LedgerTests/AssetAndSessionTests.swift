import ChainTestSupport
import Crypto
import Testing
@testable import Ledger

struct AssetRegistration {
    let station = TestChain.station

    @Test func aChangeIsANewRecordTrustedAfterSixConfirmations() throws {
        var chain = TestChain()
        chain.height = 100
        let first = chain.transaction(from: station, .registerAsset(sampleAsset()))
        try chain.apply(first)
        func trusted(at tip: UInt64) -> AssetEntry? {
            chain.state.trustedAsset(of: station.address, atTip: tip, confirmations: chain.machine.parameters.assetConfirmations)
        }
        #expect(chain.state.asset(first.id)?.confirmations(atTip: 100) == 1)
        for tip: UInt64 in 100...104 { #expect(trusted(at: tip) == nil, "trusted with \(tip - 99) confirmations") }
        #expect(trusted(at: 105)?.id == first.id)

        chain.height = 200
        var changed = sampleAsset(ssid: "qlink-cafe-2")
        changed.position.latitudeMicrodegrees += 10
        let second = chain.transaction(from: station, .registerAsset(changed))
        try chain.apply(second)
        #expect(chain.state.latestAsset(of: station.address) == second.id)
        #expect(chain.state.asset(second.id)?.previous == first.id)
        #expect(chain.state.asset(first.id)?.record == sampleAsset(), "the old record is immutable")
        #expect(trusted(at: 204)?.id == first.id, "the old record stays trusted until the new one is")
        #expect(trusted(at: 205)?.id == second.id)
        #expect(trusted(at: 205)?.record.ssid == Array("qlink-cafe-2".utf8))
    }
}

struct PrepaidSessions {
    let subscriber = TestChain.alice, station = TestChain.station, stranger = TestChain.carol
    static let price = Amount(units: 2000)  // per 10^6 bytes
    static let policy = BillingPolicy(pricePerMegabyte: price, minimumPrepaid: qlc(1), sessionTimeoutBlocks: 60)

    /// A chain where the station has a policy and the subscriber an open 5 QLC session.
    func openSession() throws -> (TestChain, SessionID) {
        var chain = TestChain()
        try chain.submit(from: station, .setBillingPolicy(Self.policy))
        let open = chain.transaction(from: subscriber, .openSession(station: station.address, escrow: qlc(5)))
        try chain.apply(open)
        return (chain, open.id)
    }

    func settle(_ chain: inout TestChain, _ session: SessionID, bytes: UInt64, amount: Amount,
                signer: SigningKey? = nil, sender: SigningKey? = nil) throws(TransactionRejection) {
        let receipt = SessionReceipt(session: session, subscriber: subscriber.address, cumulativeBytes: bytes, cumulativeAmount: amount)
        try chain.submit(from: sender ?? station, .settleSession(receipt.signed(with: signer ?? subscriber, chain: chain.chainID)))
    }

    @Test func openingNeedsAPolicyAndTheMinimumEscrow() throws {
        var chain = TestChain()
        let early = chain.transaction(from: subscriber, .openSession(station: station.address, escrow: qlc(5)))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(early) }
            == .invalid(field: "payload.openSession.station", reason: "\(station.address) has no billing policy"))
        try chain.submit(from: station, .setBillingPolicy(Self.policy))
        let small = chain.transaction(from: subscriber, .openSession(station: station.address, escrow: Amount(units: 99_999_999)))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(small) }?.description
            == "payload.openSession.escrow: 0.99999999 QLC < the station's minimum 1.00000000 QLC")
        let selfish = chain.transaction(from: station, .openSession(station: station.address, escrow: qlc(2)))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(selfish) }
            == .invalid(field: "payload.openSession.station", reason: "cannot open a session with oneself"))
    }

    @Test func escrowIsLockedThenSettledAndRefunded() throws {
        var (chain, id) = try openSession()
        #expect(chain.balance(subscriber) == qlc(995).subtracting(TestChain.fee)!)
        #expect(chain.state.session(id)?.escrow == qlc(5))
        #expect(chain.state.heldSupply() == Amount.totalSupply)
        let stationBefore = chain.balance(station)

        try settle(&chain, id, bytes: 10_000_000, amount: Amount(units: 20_000))
        #expect(chain.balance(station) == stationBefore.adding(Amount(units: 20_000))!.subtracting(TestChain.fee)!)
        #expect(chain.state.session(id)?.escrow == qlc(5).subtracting(Amount(units: 20_000))!)
        try settle(&chain, id, bytes: 15_000_000, amount: Amount(units: 30_000))
        #expect(chain.state.session(id)?.settledAmount == Amount(units: 30_000))
        #expect(chain.state.heldSupply() == Amount.totalSupply)

        let subscriberBefore = chain.balance(subscriber)
        try chain.submit(from: station, .closeSession(id))
        #expect(chain.state.session(id) == nil)
        #expect(chain.balance(subscriber) == subscriberBefore.adding(qlc(5).subtracting(Amount(units: 30_000))!)!)
        #expect(chain.state.heldSupply() == Amount.totalSupply)

        let closeAgain = chain.transaction(from: station, .closeSession(id))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(closeAgain) }
            == .invalid(field: "payload.closeSession.session", reason: "no open session \(id)"))
        #expect(throws: TransactionRejection.self) { try settle(&chain, id, bytes: 20_000_000, amount: Amount(units: 40_000)) }
    }

    @Test func aReceiptSettlesOnce() throws {
        var (chain, id) = try openSession()
        try settle(&chain, id, bytes: 1_000_000, amount: Amount(units: 2000))
        let again = TestChain.rejection { () throws(TransactionRejection) in
            try settle(&chain, id, bytes: 1_000_000, amount: Amount(units: 2000))
        }
        #expect(again == .invalid(field: "payload.settleSession.receipt.cumulativeBytes",
                                  reason: "1000000 is not above the 1000000 already settled"))
        let lower = TestChain.rejection { () throws(TransactionRejection) in
            try settle(&chain, id, bytes: 2_000_000, amount: Amount(units: 1999))
        }
        #expect(lower?.description.hasPrefix("payload.settleSession.receipt.cumulativeAmount: 0.00001999 QLC is below") == true)
    }

    @Test func paymentIsBoundedByPriceAndEscrow() throws {
        var (chain, id) = try openSession()
        let greedy = TestChain.rejection { () throws(TransactionRejection) in
            try settle(&chain, id, bytes: 1_000_000, amount: Amount(units: 2001))
        }
        #expect(greedy?.description == "payload.settleSession.receipt.cumulativeAmount: 0.00002001 QLC exceeds the price of 1000000 bytes, 0.00002000 QLC")
        let beyond = TestChain.rejection { () throws(TransactionRejection) in
            try settle(&chain, id, bytes: 1_000_000_000_000, amount: qlc(6))
        }
        #expect(beyond?.description == "payload.settleSession.receipt.cumulativeAmount: payment 6.00000000 QLC exceeds the escrow 5.00000000 QLC")
        try settle(&chain, id, bytes: 1_000_000_000_000, amount: qlc(5))
        #expect(chain.state.session(id)?.escrow == .zero)
    }

    @Test func onlyTheSubscriberSignsAndOnlyTheStationSettles() throws {
        var (chain, id) = try openSession()
        let forged = TestChain.rejection { () throws(TransactionRejection) in
            try settle(&chain, id, bytes: 1_000_000, amount: Amount(units: 2000), signer: stranger)
        }
        #expect(forged == .badSignature(field: "payload.settleSession.signature"))
        let interloper = TestChain.rejection { () throws(TransactionRejection) in
            try settle(&chain, id, bytes: 1_000_000, amount: Amount(units: 2000), sender: stranger)
        }
        #expect(interloper == .invalid(field: "sender", reason: "only the session's station \(station.address) may settle it"))
        let outsider = chain.transaction(from: stranger, .closeSession(id))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(outsider) }
            == .invalid(field: "sender", reason: "\(stranger.address) is not a party to session \(id)"))
    }

    @Test func theSubscriberClosesOnlyAfterTheTimeout() throws {
        var (chain, id) = try openSession()
        chain.height = 30
        try settle(&chain, id, bytes: 1_000_000, amount: Amount(units: 2000))
        chain.height = 89
        let early = chain.transaction(from: subscriber, .closeSession(id))
        #expect(TestChain.rejection { () throws(TransactionRejection) in try chain.apply(early) }?.description
            == "payload.closeSession.session: the subscriber may close it from height 90; the station may settle until then")
        chain.height = 90
        let before = chain.balance(subscriber)
        try chain.submit(from: subscriber, .closeSession(id))
        #expect(chain.balance(subscriber) == before.adding(qlc(5).subtracting(Amount(units: 2000))!)!.subtracting(TestChain.fee)!)
        #expect(chain.state.heldSupply() == Amount.totalSupply)
    }

    @Test func aPolicyChangeDoesNotRepriceOpenSessions() throws {
        var (chain, id) = try openSession()
        try chain.submit(from: station, .setBillingPolicy(BillingPolicy(pricePerMegabyte: Amount(units: 9000),
                                                                        minimumPrepaid: qlc(1), sessionTimeoutBlocks: 60)))
        #expect(chain.state.session(id)?.pricePerMegabyte == Self.price)
        #expect(throws: TransactionRejection.self) { try settle(&chain, id, bytes: 1_000_000, amount: Amount(units: 9000)) }
    }
}
