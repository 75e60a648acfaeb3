/// An account's entry: its spendable balance and the nonce of its last transaction.
public struct Account: Hashable, Sendable {
    public var balance: Amount
    /// 0 until the account sends; the next transaction must carry `nonce + 1`.
    public var nonce: UInt64

    public init(balance: Amount = .zero, nonce: UInt64 = 0) {
        self.balance = balance
        self.nonce = nonce
    }

    public static let empty = Account()
}

/// The chain's state as the state machine reads it, and one way to write it: `commit`
/// a `StateChanges` atomically. `InMemoryLedgerState` is the reference implementation;
/// ChainStore's SQLite state is the durable one. Enumeration (`forEach…`) has no
/// defined order; callers that need one sort.
public protocol LedgerState {
    /// nil for an account never seen (read as `Account.empty`).
    func account(_ address: Address) -> Account?
    func producer(_ address: Address) -> ProducerRegistration?
    /// The producers `voter` votes for, ascending; empty if none.
    func votes(of voter: Address) -> [Address]
    func asset(_ id: AssetID) -> AssetEntry?
    /// The station's newest registration (trusted or not).
    func latestAsset(of station: Address) -> AssetID?
    func billingPolicy(of station: Address) -> BillingPolicy?
    /// An open session; nil once closed.
    func session(_ id: SessionID) -> Session?

    func forEachAccount(_ body: (Address, Account) -> Void)
    func forEachProducer(_ body: (Address, ProducerRegistration) -> Void)
    func forEachVote(_ body: (Address, [Address]) -> Void)
    func forEachSession(_ body: (Session) -> Void)

    /// Applies `changes` all at once: puts, then session removals.
    mutating func commit(_ changes: StateChanges)
}

extension LedgerState {
    /// The newest registration of `station` with at least `confirmations` at chain height
    /// `tip`; a newer record is ignored until it has them. nil if none qualifies.
    public func trustedAsset(of station: Address, atTip tip: UInt64, confirmations: UInt32) -> AssetEntry? {
        var next = latestAsset(of: station)
        while let id = next, let entry = asset(id) {
            if entry.confirmations(atTip: tip) >= UInt64(confirmations) { return entry }
            next = entry.previous
        }
        return nil
    }

    /// Balances plus locked escrow: `Amount.totalSupply` in every reachable state
    /// (nil only if the sum overflows, which conservation rules out).
    public func heldSupply() -> Amount? {
        var total: Amount? = .zero
        forEachAccount { _, account in total = total?.adding(account.balance) }
        forEachSession { session in total = total?.adding(session.escrow) }
        return total
    }
}

/// A set of writes to a `LedgerState`, as staged by the state machine.
public struct StateChanges: Sendable {
    public internal(set) var accounts: [Address: Account] = [:]
    public internal(set) var producers: [Address: ProducerRegistration] = [:]
    /// An empty list withdraws the voter's vote.
    public internal(set) var votes: [Address: [Address]] = [:]
    /// Only ever inserted: asset records are immutable.
    public internal(set) var assets: [AssetID: AssetEntry] = [:]
    public internal(set) var latestAssets: [Address: AssetID] = [:]
    public internal(set) var billingPolicies: [Address: BillingPolicy] = [:]
    /// Sessions opened or updated (never also in `closedSessions`).
    public internal(set) var sessions: [SessionID: Session] = [:]
    public internal(set) var closedSessions: Set<SessionID> = []

    public init() {}

    public var isEmpty: Bool {
        accounts.isEmpty && producers.isEmpty && votes.isEmpty && assets.isEmpty && latestAssets.isEmpty
            && billingPolicies.isEmpty && sessions.isEmpty && closedSessions.isEmpty
    }

    /// Adds `later` on top of these changes (later writes win).
    public mutating func merge(_ later: StateChanges) {
        accounts.merge(later.accounts) { $1 }
        producers.merge(later.producers) { $1 }
        votes.merge(later.votes) { $1 }
        assets.merge(later.assets) { $1 }
        latestAssets.merge(later.latestAssets) { $1 }
        billingPolicies.merge(later.billingPolicies) { $1 }
        for id in later.closedSessions { sessions[id] = nil }
        sessions.merge(later.sessions) { $1 }
        closedSessions.formUnion(later.closedSessions)
    }

    mutating func closeSession(_ id: SessionID) {
        sessions[id] = nil
        closedSessions.insert(id)
    }
}

/// The whole state in dictionaries: for tests, tools, and as the reference the durable
/// store must agree with. A value type: a copy is a snapshot.
public struct InMemoryLedgerState: LedgerState, Hashable, Sendable {
    public private(set) var accounts: [Address: Account] = [:]
    public private(set) var producers: [Address: ProducerRegistration] = [:]
    public private(set) var allVotes: [Address: [Address]] = [:]
    public private(set) var assets: [AssetID: AssetEntry] = [:]
    public private(set) var latestAssets: [Address: AssetID] = [:]
    public private(set) var billingPolicies: [Address: BillingPolicy] = [:]
    public private(set) var sessions: [SessionID: Session] = [:]

    /// An empty state (no balances: not a valid chain until a genesis is committed).
    public init() {}

    /// The state right after `genesis`.
    public init(genesis: Genesis) {
        commit(StateMachine.genesisChanges(genesis))
    }

    public func account(_ address: Address) -> Account? { accounts[address] }
    public func producer(_ address: Address) -> ProducerRegistration? { producers[address] }
    public func votes(of voter: Address) -> [Address] { allVotes[voter] ?? [] }
    public func asset(_ id: AssetID) -> AssetEntry? { assets[id] }
    public func latestAsset(of station: Address) -> AssetID? { latestAssets[station] }
    public func billingPolicy(of station: Address) -> BillingPolicy? { billingPolicies[station] }
    public func session(_ id: SessionID) -> Session? { sessions[id] }

    public func forEachAccount(_ body: (Address, Account) -> Void) { for (key, value) in accounts { body(key, value) } }
    public func forEachProducer(_ body: (Address, ProducerRegistration) -> Void) {
        for (key, value) in producers { body(key, value) }
    }
    public func forEachVote(_ body: (Address, [Address]) -> Void) { for (key, value) in allVotes { body(key, value) } }
    public func forEachSession(_ body: (Session) -> Void) { for value in sessions.values { body(value) } }

    public mutating func commit(_ changes: StateChanges) {
        accounts.merge(changes.accounts) { $1 }
        producers.merge(changes.producers) { $1 }
        for (voter, producers) in changes.votes { allVotes[voter] = producers.isEmpty ? nil : producers }
        assets.merge(changes.assets) { $1 }
        latestAssets.merge(changes.latestAssets) { $1 }
        billingPolicies.merge(changes.billingPolicies) { $1 }
        sessions.merge(changes.sessions) { $1 }
        for id in changes.closedSessions { sessions[id] = nil }
    }
}

/// Staged writes over a base state: reads see the staged value first, then the base;
/// writes go to `changes` only. The state machine applies a transaction (or a whole
/// block) to an overlay and commits `changes` to the base only if everything succeeded,
/// so a rejection leaves the base untouched. A mempool can keep one as its pending view.
///
/// Keep an overlay's life short when the base is a value type: it holds a copy of the
/// base, and committing to the base while that copy lives forces copy-on-write.
public struct StateOverlay<Base: LedgerState>: LedgerState {
    public let base: Base
    public private(set) var changes = StateChanges()

    public init(base: Base) { self.base = base }

    public func account(_ address: Address) -> Account? { changes.accounts[address] ?? base.account(address) }
    public func producer(_ address: Address) -> ProducerRegistration? {
        changes.producers[address] ?? base.producer(address)
    }
    public func votes(of voter: Address) -> [Address] { changes.votes[voter] ?? base.votes(of: voter) }
    public func asset(_ id: AssetID) -> AssetEntry? { changes.assets[id] ?? base.asset(id) }
    public func latestAsset(of station: Address) -> AssetID? {
        changes.latestAssets[station] ?? base.latestAsset(of: station)
    }
    public func billingPolicy(of station: Address) -> BillingPolicy? {
        changes.billingPolicies[station] ?? base.billingPolicy(of: station)
    }
    public func session(_ id: SessionID) -> Session? {
        if changes.closedSessions.contains(id) { return nil }
        return changes.sessions[id] ?? base.session(id)
    }

    public func forEachAccount(_ body: (Address, Account) -> Void) {
        for (key, value) in changes.accounts { body(key, value) }
        base.forEachAccount { key, value in if changes.accounts[key] == nil { body(key, value) } }
    }

    public func forEachProducer(_ body: (Address, ProducerRegistration) -> Void) {
        for (key, value) in changes.producers { body(key, value) }
        base.forEachProducer { key, value in if changes.producers[key] == nil { body(key, value) } }
    }

    public func forEachVote(_ body: (Address, [Address]) -> Void) {
        for (key, value) in changes.votes where !value.isEmpty { body(key, value) }
        base.forEachVote { key, value in if changes.votes[key] == nil { body(key, value) } }
    }

    public func forEachSession(_ body: (Session) -> Void) {
        for value in changes.sessions.values { body(value) }
        base.forEachSession { session in
            if changes.sessions[session.id] == nil && !changes.closedSessions.contains(session.id) { body(session) }
        }
    }

    public mutating func commit(_ later: StateChanges) { changes.merge(later) }

    // Staging, for the state machine.

    mutating func setAccount(_ address: Address, _ account: Account) { changes.accounts[address] = account }
    mutating func setProducer(_ address: Address, _ registration: ProducerRegistration) {
        changes.producers[address] = registration
    }
    mutating func setVotes(_ voter: Address, _ producers: [Address]) { changes.votes[voter] = producers }
    mutating func addAsset(_ entry: AssetEntry) {
        changes.assets[entry.id] = entry
        changes.latestAssets[entry.station] = entry.id
    }
    mutating func setBillingPolicy(_ station: Address, _ policy: BillingPolicy) {
        changes.billingPolicies[station] = policy
    }
    mutating func setSession(_ session: Session) { changes.sessions[session.id] = session }
    mutating func closeSession(_ id: SessionID) { changes.closeSession(id) }
}

/// The stake-weighted vote tally Consensus elects producers from. Approval voting: each
/// voter's whole balance counts for every producer it votes for (up to 30). Pure: read
/// it from the final state at a round boundary and every node gets the same answer.
public enum Election {
    /// One registered producer and the stake voting for it.
    public struct Standing: Hashable, Sendable {
        public let producer: Address
        public let registration: ProducerRegistration
        /// Sum of the balances of accounts voting for it, in base units.
        public let weight: UInt64
    }

    /// Every registered producer, heaviest first; equal weights ascend by address.
    /// Producers nobody votes for are included with weight 0 (a fresh chain elects
    /// its genesis producers that way).
    public static func tally(_ state: some LedgerState) -> [Standing] {
        var weights: [Address: UInt64] = [:]
        state.forEachVote { voter, producers in
            let stake = (state.account(voter) ?? .empty).balance.units
            guard stake > 0 else { return }
            for producer in producers {
                // Each voter counts once per producer and balances sum to the supply,
                // so a weight never exceeds 6 × 10^16; saturate anyway.
                let (sum, overflow) = weights[producer, default: 0].addingReportingOverflow(stake)
                weights[producer] = overflow ? .max : sum
            }
        }
        var standings: [Standing] = []
        state.forEachProducer { address, registration in
            standings.append(Standing(producer: address, registration: registration, weight: weights[address] ?? 0))
        }
        return standings.sorted { $0.weight != $1.weight ? $0.weight > $1.weight : $0.producer < $1.producer }
    }

    /// The top `count` of `tally`.
    public static func elect(_ state: some LedgerState, count: Int) -> [Standing] {
        Array(tally(state).prefix(max(0, count)))
    }
}
