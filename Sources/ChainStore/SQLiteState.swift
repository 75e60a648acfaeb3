import Ledger

/// The chain state in SQLite: the durable `LedgerState`.
///
/// One table per kind of state (accounts, producers, votes, assets, latest assets,
/// billing policies, sessions), keyed by the 32-byte address or id, plus:
/// - `chain`: one row with the chain id, the applied height and block id, and the
///   final height, written in the same transaction as the state of that block;
/// - `undo`: for every non-final applied block, the prior value of each key it wrote;
/// - `blocks`: the block log's index (height → id and position), also in that transaction.
///
/// The database runs in WAL mode with `synchronous=NORMAL` and a bounded page cache;
/// statements are prepared once and cached. ChainStore owns the instance: read through
/// it freely, but write only through ChainStore, which keeps state and block log in step.
/// `commit(_:)` (the protocol's write) applies changes without recording a height, for
/// tools and tests.
///
/// Reads are non-throwing (the `LedgerState` protocol): an SQLite error during a read
/// is recorded in `failure` and the read answers nil; ChainStore checks `failure`
/// before it commits anything staged on such reads, so a read error can never be
/// mistaken for an empty account in a committed block.
public final class SQLiteState: LedgerState {
    /// The database file.
    public let path: String
    let connection: SQLiteConnection
    /// The first error a non-throwing call met, until ChainStore takes it.
    public private(set) var failure: ChainStoreError?

    /// The chain this state belongs to.
    public let chainID: ChainID
    /// The height of the last applied block (0: the genesis state).
    public internal(set) var appliedHeight: UInt64
    /// The id of the last applied block (`BlockID.none` at the genesis).
    public internal(set) var appliedBlockID: BlockID
    /// Blocks at or below this height are final: they keep no undo data.
    public internal(set) var finalHeight: UInt64

    static let formatVersion: Int64 = 1

    init(connection: SQLiteConnection, chainID: ChainID, height: UInt64, blockID: BlockID, finalHeight: UInt64) {
        path = connection.path
        self.connection = connection
        self.chainID = chainID
        appliedHeight = height
        appliedBlockID = blockID
        self.finalHeight = finalHeight
    }

    /// Closes the database; the instance must not be used afterwards.
    public func close() { connection.close() }

    // MARK: LedgerState reads

    /// The account row; nil if never seen (or on a read error, see `failure`).
    public func account(_ address: Address) -> Account? {
        read { () throws(ChainStoreError) in
            let statement = try connection.statement("SELECT balance, nonce FROM accounts WHERE key = ?1")
            statement.bind(1, address.raw)
            defer { statement.reset() }
            guard try statement.step() else { return nil }
            return Account(balance: Amount(units: statement.uint64(0)), nonce: statement.uint64(1))
        }
    }

    /// The producer's registration, if registered.
    public func producer(_ address: Address) -> ProducerRegistration? {
        value(.producers, address.raw, StateCodec.producer)
    }

    /// The producers `voter` votes for, ascending.
    public func votes(of voter: Address) -> [Address] {
        value(.votes, voter.raw, StateCodec.votes) ?? []
    }

    /// An asset registration by its id.
    public func asset(_ id: AssetID) -> AssetEntry? { value(.assets, id.raw, StateCodec.asset) }

    /// The station's newest registration.
    public func latestAsset(of station: Address) -> AssetID? {
        value(.latestAssets, station.raw, StateCodec.latestAsset)
    }

    /// The station's current prices.
    public func billingPolicy(of station: Address) -> BillingPolicy? {
        value(.billingPolicies, station.raw, StateCodec.policy)
    }

    /// An open session.
    public func session(_ id: SessionID) -> Session? { value(.sessions, id.raw, StateCodec.session) }

    /// Every account, in key order.
    public func forEachAccount(_ body: (Address, Account) -> Void) {
        each("SELECT key, balance, nonce FROM accounts") { statement throws(ChainStoreError) in
            guard let key = statement.bytes32(0) else { throw .corrupt("\(path): accounts: a key is not 32 bytes") }
            body(Address(key), Account(balance: Amount(units: statement.uint64(1)), nonce: statement.uint64(2)))
        }
    }

    /// Every registered producer.
    public func forEachProducer(_ body: (Address, ProducerRegistration) -> Void) {
        eachValue(.producers, StateCodec.producer) { body(Address($0), $1) }
    }

    /// Every voter's list.
    public func forEachVote(_ body: (Address, [Address]) -> Void) {
        eachValue(.votes, StateCodec.votes) { body(Address($0), $1) }
    }

    /// Every open session.
    public func forEachSession(_ body: (Session) -> Void) {
        eachValue(.sessions, StateCodec.session) { body($1) }
    }

    /// Every asset registration (the protocol has no enumeration of these).
    public func forEachAsset(_ body: (AssetEntry) -> Void) {
        eachValue(.assets, StateCodec.asset) { body($1) }
    }

    /// Every station's newest asset registration.
    public func forEachLatestAsset(_ body: (Address, AssetID) -> Void) {
        eachValue(.latestAssets, StateCodec.latestAsset) { body(Address($0), $1) }
    }

    /// Every station's billing policy.
    public func forEachBillingPolicy(_ body: (Address, BillingPolicy) -> Void) {
        eachValue(.billingPolicies, StateCodec.policy) { body(Address($0), $1) }
    }

    /// Accounts held (rows in `accounts`).
    public var accountCount: Int {
        read { () throws(ChainStoreError) in try connection.integer("SELECT count(*) FROM accounts").map(Int.init) } ?? 0
    }

    /// Applies `changes` in one SQLite transaction (or inside the one already open),
    /// without touching the applied height. An error is recorded in `failure`.
    public func commit(_ changes: StateChanges) {
        do throws(ChainStoreError) {
            try transaction { () throws(ChainStoreError) in try write(changes, undoHeight: nil) }
        } catch {
            record(error)
        }
    }

    // MARK: Helpers

    /// Records the first failure; ChainStore refuses to commit while one is pending.
    func record(_ error: ChainStoreError) {
        if failure == nil { failure = error }
    }

    /// Returns and clears the pending failure.
    func takeFailure() -> ChainStoreError? {
        defer { failure = nil }
        return failure
    }

    private func read<T>(_ body: () throws(ChainStoreError) -> T?) -> T? {
        do throws(ChainStoreError) {
            return try body()
        } catch {
            record(error)
            return nil
        }
    }

    private func value<T>(_ table: StateTable, _ key: Bytes32,
                          _ decode: ([UInt8]) throws(DecodeError) -> T) -> T? {
        read { () throws(ChainStoreError) in
            guard let bytes = try rawValue(table, key) else { return nil }
            do { return try decode(bytes) } catch { throw .corrupt("\(path): \(table.name) \(key): \(error)") }
        }
    }

    private func each(_ sql: String, _ body: (SQLiteStatement) throws(ChainStoreError) -> Void) {
        do throws(ChainStoreError) {
            let statement = try connection.prepare(sql)
            while try statement.step() { try body(statement) }
        } catch {
            record(error)
        }
    }

    private func eachValue<T>(_ table: StateTable, _ decode: ([UInt8]) throws(DecodeError) -> T,
                              _ body: (Bytes32, T) -> Void) {
        each("SELECT key, value FROM \(table.name)") { statement throws(ChainStoreError) in
            guard let key = statement.bytes32(0), let bytes = statement.blob(1) else {
                throw .corrupt("\(path): \(table.name): a row is not a 32-byte key and a value")
            }
            do { body(key, try decode(bytes)) } catch { throw .corrupt("\(path): \(table.name) \(key): \(error)") }
        }
    }

    /// The stored value of `key` in its raw form (see `StateCodec`); nil if absent.
    func rawValue(_ table: StateTable, _ key: Bytes32) throws(ChainStoreError) -> [UInt8]? {
        if table == .accounts {
            let statement = try connection.statement("SELECT balance, nonce FROM accounts WHERE key = ?1")
            statement.bind(1, key)
            defer { statement.reset() }
            guard try statement.step() else { return nil }
            return StateCodec.encode(Account(balance: Amount(units: statement.uint64(0)), nonce: statement.uint64(1)))
        }
        let statement = try connection.statement("SELECT value FROM \(table.name) WHERE key = ?1")
        statement.bind(1, key)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return statement.blob(0)
    }

    /// Writes `value` (raw form) under `key`, or deletes the row for nil.
    func setRaw(_ table: StateTable, _ key: Bytes32, _ value: [UInt8]?) throws(ChainStoreError) {
        guard let value else {
            let statement = try connection.statement("DELETE FROM \(table.name) WHERE key = ?1")
            statement.bind(1, key)
            try statement.run()
            return
        }
        if table == .accounts {
            let account: Account
            do { account = try StateCodec.account(value) } catch { throw .corrupt("\(path): account \(key): \(error)") }
            let statement = try connection.statement(
                "INSERT INTO accounts(key, balance, nonce) VALUES(?1, ?2, ?3) "
                    + "ON CONFLICT(key) DO UPDATE SET balance = excluded.balance, nonce = excluded.nonce")
            statement.bind(1, key)
            statement.bind(2, account.balance.units)
            statement.bind(3, account.nonce)
            try statement.run()
            return
        }
        let statement = try connection.statement(
            "INSERT INTO \(table.name)(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        statement.bind(1, key)
        statement.bind(2, value)
        try statement.run()
    }

    /// Runs `body` in a transaction, or inside the one already open (then the caller
    /// commits). Rolls back on error.
    func transaction<T>(_ body: () throws(ChainStoreError) -> T) throws(ChainStoreError) -> T {
        if connection.inTransaction { return try body() }
        try connection.statement("BEGIN IMMEDIATE").run()
        do {
            let result = try body()
            try connection.statement("COMMIT").run()
            return result
        } catch {
            rollback()
            throw error
        }
    }

    /// Abandons the open transaction, if any.
    func rollback() {
        guard connection.inTransaction else { return }
        try? connection.statement("ROLLBACK").run()
    }
}
