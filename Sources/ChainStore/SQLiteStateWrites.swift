import Ledger

/// Tuning of the state database.
public struct StateDatabaseOptions: Sendable {
    /// SQLite's page cache, KiB (`PRAGMA cache_size = -N`): the bound on the state's RAM.
    public var cacheKilobytes: Int
    /// Pages in the WAL before SQLite checkpoints it into the database.
    public var walAutocheckpointPages: Int

    /// 8 MiB of cache, a checkpoint every 4000 pages (4 MiB of WAL with 1 KiB pages).
    public init(cacheKilobytes: Int = 8192, walAutocheckpointPages: Int = 4000) {
        self.cacheKilobytes = cacheKilobytes
        self.walAutocheckpointPages = walAutocheckpointPages
    }
}

extension SQLiteState {
    static let schema = """
        CREATE TABLE chain(id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL, chain_id BLOB NOT NULL,
            height INTEGER NOT NULL, block_id BLOB NOT NULL, final_height INTEGER NOT NULL);
        CREATE TABLE accounts(key BLOB PRIMARY KEY, balance INTEGER NOT NULL, nonce INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE producers(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE votes(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE assets(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE latest_assets(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE billing_policies(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE sessions(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE undo(height INTEGER NOT NULL, tbl INTEGER NOT NULL, key BLOB NOT NULL, prior BLOB,
            PRIMARY KEY (height, tbl, key)) WITHOUT ROWID;
        CREATE TABLE blocks(height INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, segment INTEGER NOT NULL,
            offset INTEGER NOT NULL, length INTEGER NOT NULL);
        """

    /// Opens a state database on its own, without a block log: for tools that read the
    /// state while the daemon is down, and tests. A new file gets the genesis state.
    /// Write to it only through `commit(_:)`; a store's database belongs to its `ChainStore`.
    public static func open(path: String, genesis: Genesis,
                            options: StateDatabaseOptions = StateDatabaseOptions()) throws(ChainStoreError) -> SQLiteState {
        try openOrCreate(path: path, genesis: genesis, options: options).state
    }

    /// Opens the state database at `path`, creating it with the genesis state when it
    /// has no `chain` row (a new file, or one whose creating transaction never committed).
    /// Returns whether it was created.
    static func openOrCreate(path: String, genesis: Genesis,
                     options: StateDatabaseOptions) throws(ChainStoreError) -> (state: SQLiteState, created: Bool) {
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA busy_timeout = 5000; PRAGMA page_size = 1024")
        guard try connection.text("PRAGMA journal_mode = WAL")?.lowercased() == "wal" else {
            throw .sqlite(code: 0, message: "WAL mode refused", context: path)
        }
        try connection.execute("""
            PRAGMA synchronous = NORMAL; PRAGMA cache_size = -\(max(256, options.cacheKilobytes));
            PRAGMA mmap_size = 0; PRAGMA temp_store = FILE; PRAGMA foreign_keys = OFF;
            PRAGMA wal_autocheckpoint = \(max(16, options.walAutocheckpointPages));
            PRAGMA journal_size_limit = \(16 << 20);
            """)
        var created = false
        if try connection.integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'chain'") == 0 {
            try create(connection, genesis: genesis)
            created = true
        }
        let row = try connection.prepare("SELECT format, chain_id, height, block_id, final_height FROM chain WHERE id = 1")
        guard try row.step(), let chain = row.bytes32(1), let block = row.bytes32(3) else {
            throw .corrupt("\(path): no chain row")
        }
        guard row.int64(0) == formatVersion else { throw .corrupt("\(path): format \(row.int64(0)), expected \(formatVersion)") }
        guard ChainID(chain) == genesis.chainID else { throw .wrongChain(expected: genesis.chainID, found: ChainID(chain)) }
        let state = SQLiteState(connection: connection, chainID: ChainID(chain), height: row.uint64(2),
                                blockID: BlockID(block), finalHeight: row.uint64(4))
        return (state, created)
    }

    /// Schema, genesis balances and producers, and the chain row: one transaction, so a
    /// crash leaves either nothing or all of it. Streams the allocations (up to 10^6)
    /// without building a dictionary of them.
    private static func create(_ connection: SQLiteConnection, genesis: Genesis) throws(ChainStoreError) {
        try connection.execute("BEGIN IMMEDIATE")
        do {
            for table in ["chain", "undo", "blocks"] + StateTable.allCases.map(\.name) {
                try connection.execute("DROP TABLE IF EXISTS \(table)")
            }
            try connection.execute(schema)
            let account = try connection.statement("INSERT INTO accounts(key, balance, nonce) VALUES(?1, ?2, 0)")
            for allocation in genesis.allocations {
                account.bind(1, allocation.address.raw)
                account.bind(2, allocation.amount.units)
                try account.run()
            }
            let producer = try connection.statement("INSERT INTO producers(key, value) VALUES(?1, ?2)")
            for entry in genesis.producers {
                producer.bind(1, entry.address.raw)
                producer.bind(2, StateCodec.encode(entry.registration))
                try producer.run()
            }
            let chain = try connection.statement(
                "INSERT INTO chain(id, format, chain_id, height, block_id, final_height) VALUES(1, ?1, ?2, 0, ?3, 0)")
            chain.bind(1, formatVersion)
            chain.bind(2, genesis.chainID.raw)
            chain.bind(3, BlockID.none.raw)
            try chain.run()
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Writes `changes`; with `undoHeight`, first records the prior value of every key
    /// written under that height (the first prior per key wins).
    func write(_ changes: StateChanges, undoHeight: UInt64?) throws(ChainStoreError) {
        for (table, key, value) in changes.rawWrites {
            if let height = undoHeight {
                let prior = try rawValue(table, key)
                let undo = try connection.statement("INSERT OR IGNORE INTO undo(height, tbl, key, prior) VALUES(?1, ?2, ?3, ?4)")
                undo.bind(1, height)
                undo.bind(2, table.rawValue)
                undo.bind(3, key)
                undo.bind(4, prior)
                try undo.run()
            }
            try setRaw(table, key, value)
        }
    }

    /// Records block `height` as applied: its index row and the chain row.
    func recordApplied(height: UInt64, id: BlockID, location: BlockLocation) throws(ChainStoreError) {
        let index = try connection.statement("INSERT INTO blocks(height, id, segment, offset, length) VALUES(?1, ?2, ?3, ?4, ?5)")
        index.bind(1, height)
        index.bind(2, id.raw)
        index.bind(3, location.segment)
        index.bind(4, location.offset)
        index.bind(5, Int64(location.length))
        try index.run()
        try setHead(height: height, id: id)
    }

    private func setHead(height: UInt64, id: BlockID) throws(ChainStoreError) {
        let chain = try connection.statement("UPDATE chain SET height = ?1, block_id = ?2 WHERE id = 1")
        chain.bind(1, height)
        chain.bind(2, id.raw)
        try chain.run()
        appliedHeight = height
        appliedBlockID = id
    }

    /// Marks blocks up to `height` final: deletes their undo rows. Never lowers it.
    func setFinal(_ height: UInt64) throws(ChainStoreError) {
        guard height > finalHeight else { return }
        let undo = try connection.statement("DELETE FROM undo WHERE height <= ?1")
        undo.bind(1, height)
        try undo.run()
        let chain = try connection.statement("UPDATE chain SET final_height = ?1 WHERE id = 1")
        chain.bind(1, height)
        try chain.run()
        finalHeight = height
    }

    /// Undoes applied blocks above `height` (≥ the final height) from their undo rows,
    /// newest first, and drops their index rows. Call inside a transaction.
    func undo(to height: UInt64) throws(ChainStoreError) {
        guard height >= finalHeight else {
            throw .invalidOperation("cannot revert to \(height): blocks up to \(finalHeight) are final")
        }
        guard height < appliedHeight else { return }
        let rows = try connection.statement("SELECT tbl, key, prior FROM undo WHERE height = ?1")
        for undone in stride(from: appliedHeight, to: height, by: -1) {
            rows.bind(1, undone)
            var restores: [(StateTable, Bytes32, [UInt8]?)] = []
            while try rows.step() {
                guard let table = StateTable(rawValue: rows.int64(0)), let key = rows.bytes32(1) else {
                    rows.reset()
                    throw .corrupt("\(path): undo row of block \(undone) names no table or key")
                }
                restores.append((table, key, rows.blob(2)))
            }
            rows.reset()
            for (table, key, prior) in restores { try setRaw(table, key, prior) }
        }
        for sql in ["DELETE FROM undo WHERE height > ?1", "DELETE FROM blocks WHERE height > ?1"] {
            let statement = try connection.statement(sql)
            statement.bind(1, height)
            try statement.run()
        }
        try setHead(height: height, id: try indexed(height: height)?.id ?? .none)
    }

    /// The index row of block `height`.
    func indexed(height: UInt64) throws(ChainStoreError) -> (id: BlockID, location: BlockLocation)? {
        let statement = try connection.statement("SELECT id, segment, offset, length FROM blocks WHERE height = ?1")
        statement.bind(1, height)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        guard let id = statement.bytes32(0) else { throw .corrupt("\(path): index row \(height) has no id") }
        return (BlockID(id), BlockLocation(segment: statement.uint64(1), offset: statement.int64(2),
                                           length: Int(statement.int64(3))))
    }

    /// The height of the indexed block `id`.
    func indexedHeight(of id: BlockID) throws(ChainStoreError) -> UInt64? {
        let statement = try connection.statement("SELECT height FROM blocks WHERE id = ?1")
        statement.bind(1, id.raw)
        defer { statement.reset() }
        return try statement.step() ? statement.uint64(0) : nil
    }

    /// Heights with undo rows (non-final blocks that changed something).
    func undoHeights() throws(ChainStoreError) -> [UInt64] {
        let statement = try connection.prepare("SELECT DISTINCT height FROM undo ORDER BY height")
        var heights: [UInt64] = []
        while try statement.step() { heights.append(statement.uint64(0)) }
        return heights
    }

    /// Makes the next commits wait for the WAL to reach the disk (`synchronous=FULL`), or
    /// back to NORMAL. Outside a transaction only.
    func setFullSync(_ full: Bool) throws(ChainStoreError) {
        try connection.execute("PRAGMA synchronous = \(full ? "FULL" : "NORMAL")")
    }

    /// Writes a consistent copy of the database to `path` (VACUUM INTO; not fsynced:
    /// the caller syncs and renames it). Outside a transaction only.
    func vacuum(into path: String) throws(ChainStoreError) {
        let statement = try connection.prepare("VACUUM INTO ?1")
        statement.bind(1, text: path)
        try statement.run()
    }

    /// Moves the WAL into the database and empties it (at close, and before a snapshot).
    func checkpoint() throws(ChainStoreError) {
        try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }
}
