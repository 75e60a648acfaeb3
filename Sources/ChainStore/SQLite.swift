import CSQLite
import Ledger

// The one file of ChainStore that touches SQLite's C API: a connection with a cache of
// prepared statements, and statements with typed binds and columns. Everything else in
// the module speaks SQL through these two classes.

/// SQLite copies a blob bound with this destructor (SQLITE_TRANSIENT).
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection, used by one thread at a time (opened NOMUTEX).
final class SQLiteConnection {
    let path: String
    private var handle: OpaquePointer?
    private var cache: [String: SQLiteStatement] = [:]

    /// Opens (creating if asked) the database at `path` with extended result codes.
    init(path: String, create: Bool = true) throws(ChainStoreError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw .sqlite(code: code, message: message, context: "open \(path)")
        }
        handle = db
    }

    deinit { close() }

    /// Finalizes every statement and closes; later calls fail with SQLITE_MISUSE.
    func close() {
        cache.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    private var db: OpaquePointer {
        get throws(ChainStoreError) {
            guard let handle else { throw .sqlite(code: SQLITE_MISUSE, message: "closed", context: path) }
            return handle
        }
    }

    /// Runs one or more statements that return no rows worth reading (DDL, pragmas).
    func execute(_ sql: String) throws(ChainStoreError) {
        var error: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(try db, sql, nil, nil, &error)
        defer { sqlite3_free(error) }
        guard code == SQLITE_OK else {
            throw .sqlite(code: code, message: error.map { String(cString: $0) } ?? "error", context: sql)
        }
    }

    /// The single integer (or text as 0) a pragma or query returns, nil if no row.
    func integer(_ sql: String) throws(ChainStoreError) -> Int64? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.int64(0) : nil
    }

    /// The single text value a pragma or query returns, nil if no row.
    func text(_ sql: String) throws(ChainStoreError) -> String? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.text(0) : nil
    }

    /// A cached prepared statement for `sql`, reset and with bindings cleared.
    func statement(_ sql: String) throws(ChainStoreError) -> SQLiteStatement {
        if let cached = cache[sql] {
            cached.reset()
            return cached
        }
        let statement = try prepare(sql, persistent: true)
        cache[sql] = statement
        return statement
    }

    /// A new statement, finalized when released (for iteration that may nest).
    func prepare(_ sql: String, persistent: Bool = false) throws(ChainStoreError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let code = sqlite3_prepare_v3(try db, sql, -1, flags, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw .sqlite(code: code, message: String(cString: sqlite3_errmsg(try db)), context: "prepare \(sql)")
        }
        return SQLiteStatement(statement, connection: self)
    }

    /// The connection's last error message.
    var lastMessage: String {
        guard let handle else { return "closed" }
        return String(cString: sqlite3_errmsg(handle))
    }

    /// Whether a transaction is open (autocommit is off).
    var inTransaction: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int {
        guard let handle else { return 0 }
        return Int(sqlite3_changes(handle))
    }

    /// Whether `code` says the file is damaged or not a database at all.
    static func isCorruption(_ code: Int32) -> Bool {
        let primary = code & 0xFF
        return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB
    }
}

/// A prepared statement. Binds are 1-based, columns 0-based, as in SQLite.
final class SQLiteStatement {
    private let handle: OpaquePointer
    private unowned let connection: SQLiteConnection

    fileprivate init(_ handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    /// Ready to run again; drops the bindings.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    /// A UInt64 by its bit pattern (SQLite integers are signed 64-bit).
    func bind(_ index: Int32, _ value: UInt64) {
        sqlite3_bind_int64(handle, index, Int64(bitPattern: value))
    }

    func bind(_ index: Int32, _ bytes: [UInt8]?) {
        guard let bytes else {
            sqlite3_bind_null(handle, index)
            return
        }
        bytes.withUnsafeBytes { raw in
            // A zero-length blob still needs a non-null pointer to be a blob, not NULL.
            _ = sqlite3_bind_blob(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), transient)
        }
    }

    func bind(_ index: Int32, text: String) {
        sqlite3_bind_text(handle, index, text, -1, transient)
    }

    func bind(_ index: Int32, _ value: Bytes32) {
        bind(index, value.bytes)
    }

    /// Runs one step: true when a row is ready, false when done.
    @discardableResult
    func step() throws(ChainStoreError) -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let sql = sqlite3_sql(handle).map { String(cString: $0) } ?? "?"
            sqlite3_reset(handle)
            throw .sqlite(code: code, message: connection.lastMessage, context: sql)
        }
    }

    /// Steps to completion (for writes), then resets.
    func run() throws(ChainStoreError) {
        defer { reset() }
        while try step() {}
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func uint64(_ column: Int32) -> UInt64 { UInt64(bitPattern: sqlite3_column_int64(handle, column)) }

    /// The column's bytes; nil for NULL.
    func blob(_ column: Int32) -> [UInt8]? {
        guard sqlite3_column_type(handle, column) != SQLITE_NULL else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The column as 32 bytes; nil for NULL or another length.
    func bytes32(_ column: Int32) -> Bytes32? {
        guard sqlite3_column_type(handle, column) == SQLITE_BLOB, sqlite3_column_bytes(handle, column) == 32,
              let pointer = sqlite3_column_blob(handle, column) else { return nil }
        return Bytes32(Array(UnsafeRawBufferPointer(start: pointer, count: 32)))
    }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }
}
