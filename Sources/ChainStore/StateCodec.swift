import Ledger

/// The state's tables, each a key → value map. The raw value is the tag kept in the
/// `undo` table to say which table an undo row restores.
enum StateTable: Int64, CaseIterable, Sendable {
    case accounts = 1
    case producers = 2
    case votes = 3
    case assets = 4
    case latestAssets = 5
    case billingPolicies = 6
    case sessions = 7

    /// The SQL table name.
    var name: String {
        switch self {
        case .accounts: "accounts"
        case .producers: "producers"
        case .votes: "votes"
        case .assets: "assets"
        case .latestAssets: "latest_assets"
        case .billingPolicies: "billing_policies"
        case .sessions: "sessions"
        }
    }
}

/// How state values are kept as SQLite blobs. Values with a canonical chain encoding
/// (producer registrations, billing policies, asset records) use it; the rest use the
/// same little-endian `BinaryWriter` primitives in a fixed field order, documented per
/// function. Accounts live in integer columns; their 16-byte form here is what an undo
/// row stores. Decoding errors mean a damaged database and surface as `corrupt`.
enum StateCodec {
    /// balance u64 ‖ nonce u64.
    static func encode(_ account: Account) -> [UInt8] {
        var writer = BinaryWriter(capacity: 16)
        writer.amount(account.balance)
        writer.u64(account.nonce)
        return writer.bytes
    }

    static func account(_ bytes: [UInt8]) throws(DecodeError) -> Account {
        try decode(bytes, "account") { reader throws(DecodeError) in
            Account(balance: try reader.amount("balance"), nonce: try reader.u64("nonce"))
        }
    }

    static func encode(_ registration: ProducerRegistration) -> [UInt8] { registration.canonicalEncoding }

    static func producer(_ bytes: [UInt8]) throws(DecodeError) -> ProducerRegistration {
        try ProducerRegistration(canonical: bytes, root: "producer")
    }

    /// The producers voted for, 32 bytes each, ascending, no count.
    static func encode(votes: [Address]) -> [UInt8] {
        var writer = BinaryWriter(capacity: votes.count * 32)
        for producer in votes { writer.address(producer) }
        return writer.bytes
    }

    static func votes(_ bytes: [UInt8]) throws(DecodeError) -> [Address] {
        guard bytes.count % 32 == 0, bytes.count / 32 <= Limits.maxVotes else {
            throw DecodeError(field: "votes", reason: "\(bytes.count) bytes is not a vote list")
        }
        return try decode(bytes, "votes") { reader throws(DecodeError) in
            try (0..<bytes.count / 32).map { _ throws(DecodeError) in try reader.address("producer") }
        }
    }

    /// id ‖ station ‖ height u64 ‖ previous (optional id) ‖ record (canonical).
    static func encode(_ entry: AssetEntry) -> [UInt8] {
        var writer = BinaryWriter(capacity: 160)
        writer.raw(entry.id.raw)
        writer.address(entry.station)
        writer.u64(entry.height)
        writer.optional(entry.previous) { $0.raw($1.raw) }
        entry.record.encode(to: &writer)
        return writer.bytes
    }

    static func asset(_ bytes: [UInt8]) throws(DecodeError) -> AssetEntry {
        try decode(bytes, "asset") { reader throws(DecodeError) in
            let id = AssetID(try reader.bytes32("id"))
            let station = try reader.address("station")
            let height = try reader.u64("height")
            let previous = try reader.optional("previous") { reader throws(DecodeError) in AssetID(try reader.bytes32("")) }
            let record = try AssetRecord(from: &reader)
            return AssetEntry(id: id, station: station, record: record, height: height, previous: previous)
        }
    }

    /// The asset id (32 bytes).
    static func encode(latestAsset id: AssetID) -> [UInt8] { id.raw.bytes }

    static func latestAsset(_ bytes: [UInt8]) throws(DecodeError) -> AssetID {
        guard let raw = Bytes32(bytes) else { throw DecodeError(field: "latestAsset", reason: "\(bytes.count) bytes") }
        return AssetID(raw)
    }

    static func encode(_ policy: BillingPolicy) -> [UInt8] { policy.canonicalEncoding }

    static func policy(_ bytes: [UInt8]) throws(DecodeError) -> BillingPolicy {
        try BillingPolicy(canonical: bytes, root: "billingPolicy")
    }

    /// id ‖ subscriber ‖ station ‖ price u64 ‖ timeout u32 ‖ openedAt u64 ‖ escrow u64 ‖
    /// settledBytes u64 ‖ settledAmount u64 ‖ lastActivity u64.
    static func encode(_ session: Session) -> [UInt8] {
        var writer = BinaryWriter(capacity: 148)
        writer.raw(session.id.raw)
        writer.address(session.subscriber)
        writer.address(session.station)
        writer.amount(session.pricePerMegabyte)
        writer.u32(session.timeoutBlocks)
        writer.u64(session.openedAt)
        writer.amount(session.escrow)
        writer.u64(session.settledBytes)
        writer.amount(session.settledAmount)
        writer.u64(session.lastActivity)
        return writer.bytes
    }

    static func session(_ bytes: [UInt8]) throws(DecodeError) -> Session {
        try decode(bytes, "session") { reader throws(DecodeError) in
            let id = SessionID(try reader.bytes32("id"))
            let subscriber = try reader.address("subscriber")
            let station = try reader.address("station")
            let price = try reader.amount("pricePerMegabyte")
            let timeout = try reader.u32("timeoutBlocks")
            let openedAt = try reader.u64("openedAt")
            let escrow = try reader.amount("escrow")
            let settledBytes = try reader.u64("settledBytes")
            let settledAmount = try reader.amount("settledAmount")
            let lastActivity = try reader.u64("lastActivity")
            return Session(id: id, subscriber: subscriber, station: station, pricePerMegabyte: price, timeoutBlocks: timeout,
                           openedAt: openedAt, escrow: escrow, settledBytes: settledBytes, settledAmount: settledAmount,
                           lastActivity: lastActivity)
        }
    }

    private static func decode<T>(_ bytes: [UInt8], _ root: String,
                                  _ read: (inout BinaryReader) throws(DecodeError) -> T) throws(DecodeError) -> T {
        var reader = BinaryReader(bytes)
        return try within(root) { () throws(DecodeError) in
            let value = try read(&reader)
            try reader.finish()
            return value
        }
    }
}

extension StateChanges {
    /// Every key these changes write, with its new raw value (nil: the row is deleted),
    /// in the order `commit` applies them: puts table by table, then session removals.
    var rawWrites: [(StateTable, Bytes32, [UInt8]?)] {
        var writes: [(StateTable, Bytes32, [UInt8]?)] = []
        writes.reserveCapacity(accounts.count + producers.count + votes.count + sessions.count + closedSessions.count
            + assets.count + latestAssets.count + billingPolicies.count)
        for (address, account) in accounts { writes.append((.accounts, address.raw, StateCodec.encode(account))) }
        for (address, registration) in producers { writes.append((.producers, address.raw, StateCodec.encode(registration))) }
        for (voter, list) in votes { writes.append((.votes, voter.raw, list.isEmpty ? nil : StateCodec.encode(votes: list))) }
        for (id, entry) in assets { writes.append((.assets, id.raw, StateCodec.encode(entry))) }
        for (station, id) in latestAssets { writes.append((.latestAssets, station.raw, StateCodec.encode(latestAsset: id))) }
        for (station, policy) in billingPolicies { writes.append((.billingPolicies, station.raw, StateCodec.encode(policy))) }
        for (id, session) in sessions { writes.append((.sessions, id.raw, StateCodec.encode(session))) }
        for id in closedSessions where sessions[id] == nil { writes.append((.sessions, id.raw, nil)) }
        return writes
    }
}
