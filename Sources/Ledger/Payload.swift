import Crypto

/// Protocol limits that are not chain parameters.
public enum Limits {
    /// Producers one account may vote for.
    public static let maxVotes = 30
    /// The most producers a round can have (and votes a quorum certificate can carry).
    public static let maxProducers = 21
    /// Hard cap on a transaction's encoding, whatever the genesis says.
    public static let maxTransactionBytes = 65_535
    /// Hard cap on a block's encoding, whatever the genesis says.
    public static let maxBlockBytes = 8 << 20
    /// Producer names: printable ASCII.
    public static let producerNameLimits = 1...32
    /// Producer URLs: printable ASCII, may be empty.
    public static let producerURLLimits = 0...128
}

/// A block producer's registration: a name, a URL and the key that signs its blocks and
/// votes (a hot key kept on the board, distinct from the account's key).
public struct ProducerRegistration: Hashable, Sendable, CanonicalCodable {
    public var name: String
    public var url: String
    public var signingKey: Address

    public init(name: String, url: String, signingKey: Address) {
        self.name = name
        self.url = url
        self.signingKey = signingKey
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.text(name)
        writer.text(url)
        writer.address(signingKey)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        name = try reader.text("name", Limits.producerNameLimits)
        url = try reader.text("url", Limits.producerURLLimits)
        signingKey = try reader.address("signingKey")
    }
}

/// What a transaction does. The enum tag is one byte, starting at 1.
public enum TransactionPayload: Hashable, Sendable, CanonicalCodable {
    /// Moves `amount` (> 0) from the sender to `to`.
    case transfer(to: Address, amount: Amount)
    /// Replaces the sender's votes: up to 30 registered producers in strictly ascending
    /// order; an empty list withdraws the vote. Weight is the voter's balance at tally.
    case vote(producers: [Address])
    /// Registers the sender as a block producer, or updates its registration.
    case registerProducer(ProducerRegistration)
    /// Registers a new immutable record of the sender station's configuration.
    case registerAsset(AssetRecord)
    /// Sets the sender station's prices for sessions opened from now on.
    case setBillingPolicy(BillingPolicy)
    /// Opens a prepaid session with `station`, locking `escrow` from the sender.
    case openSession(station: Address, escrow: Amount)
    /// The station claims payment with the subscriber's newest signed receipt.
    case settleSession(SignedReceipt)
    /// Ends a session, refunding the unspent escrow to the subscriber.
    case closeSession(SessionID)

    /// The field name of each case, as error paths spell it.
    public var name: String {
        switch self {
        case .transfer: "transfer"
        case .vote: "vote"
        case .registerProducer: "registerProducer"
        case .registerAsset: "registerAsset"
        case .setBillingPolicy: "setBillingPolicy"
        case .openSession: "openSession"
        case .settleSession: "settleSession"
        case .closeSession: "closeSession"
        }
    }

    public func encode(to writer: inout BinaryWriter) {
        switch self {
        case let .transfer(to, amount):
            writer.u8(1)
            writer.address(to)
            writer.amount(amount)
        case let .vote(producers):
            writer.u8(2)
            writer.list(producers) { $0.address($1) }
        case let .registerProducer(registration):
            writer.u8(3)
            registration.encode(to: &writer)
        case let .registerAsset(record):
            writer.u8(4)
            record.encode(to: &writer)
        case let .setBillingPolicy(policy):
            writer.u8(5)
            policy.encode(to: &writer)
        case let .openSession(station, escrow):
            writer.u8(6)
            writer.address(station)
            writer.amount(escrow)
        case let .settleSession(receipt):
            writer.u8(7)
            receipt.encode(to: &writer)
        case let .closeSession(session):
            writer.u8(8)
            writer.raw(session.raw)
        }
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        switch try reader.tag("", valid: 1...8) {
        case 1:
            self = try within("transfer") { () throws(DecodeError) in
                .transfer(to: try reader.address("to"), amount: try reader.amount("amount"))
            }
        case 2:
            self = try within("vote") { () throws(DecodeError) in
                .vote(producers: try reader.addressSet("producers", 0...Limits.maxVotes))
            }
        case 3:
            self = try within("registerProducer") { () throws(DecodeError) in
                .registerProducer(try ProducerRegistration(from: &reader))
            }
        case 4:
            self = try within("registerAsset") { () throws(DecodeError) in .registerAsset(try AssetRecord(from: &reader)) }
        case 5:
            self = try within("setBillingPolicy") { () throws(DecodeError) in
                .setBillingPolicy(try BillingPolicy(from: &reader))
            }
        case 6:
            self = try within("openSession") { () throws(DecodeError) in
                .openSession(station: try reader.address("station"), escrow: try reader.amount("escrow"))
            }
        case 7:
            self = try within("settleSession") { () throws(DecodeError) in .settleSession(try SignedReceipt(from: &reader)) }
        default:
            self = try within("closeSession") { () throws(DecodeError) in
                .closeSession(SessionID(try reader.bytes32("session")))
            }
        }
    }
}
