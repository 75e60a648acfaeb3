import Crypto

/// A station's prices, set by the station's account. A session keeps the price it was
/// opened under; a new policy applies to sessions opened after it.
public struct BillingPolicy: Hashable, Sendable, CanonicalCodable {
    /// Allowed `sessionTimeoutBlocks`: one minute to thirty days of 1-second blocks.
    public static let timeoutLimits: ClosedRange<UInt32> = 60...2_592_000

    /// Price of 10^6 bytes (up and down together); charges round up.
    public var pricePerMegabyte: Amount
    /// The smallest escrow a session may open with.
    public var minimumPrepaid: Amount
    /// Blocks without a settlement after which the subscriber may close the session
    /// and take the unspent escrow back.
    public var sessionTimeoutBlocks: UInt32

    public init(pricePerMegabyte: Amount, minimumPrepaid: Amount, sessionTimeoutBlocks: UInt32) {
        self.pricePerMegabyte = pricePerMegabyte
        self.minimumPrepaid = minimumPrepaid
        self.sessionTimeoutBlocks = sessionTimeoutBlocks
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.amount(pricePerMegabyte)
        writer.amount(minimumPrepaid)
        writer.u32(sessionTimeoutBlocks)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        pricePerMegabyte = try reader.amount("pricePerMegabyte")
        minimumPrepaid = try reader.amount("minimumPrepaid")
        sessionTimeoutBlocks = try reader.u32("sessionTimeoutBlocks")
        guard Self.timeoutLimits.contains(sessionTimeoutBlocks) else {
            throw DecodeError(field: "sessionTimeoutBlocks",
                              reason: "\(sessionTimeoutBlocks) outside \(Self.timeoutLimits.lowerBound)...\(Self.timeoutLimits.upperBound)")
        }
    }
}

/// What a subscriber signs to pay for a session: cumulative bytes and the cumulative
/// amount it agrees to. The station submits the newest receipt in `settleSession`; the
/// chain pays the difference to what was already settled, out of the escrow.
public struct SessionReceipt: Hashable, Sendable, CanonicalCodable {
    public var session: SessionID
    /// The subscriber's account (the session's payer), whose key signs the receipt.
    public var subscriber: Address
    public var cumulativeBytes: UInt64
    public var cumulativeAmount: Amount

    public init(session: SessionID, subscriber: Address, cumulativeBytes: UInt64, cumulativeAmount: Amount) {
        self.session = session
        self.subscriber = subscriber
        self.cumulativeBytes = cumulativeBytes
        self.cumulativeAmount = cumulativeAmount
    }

    /// What the subscriber signs.
    public func signingDigest(chain: ChainID) -> Bytes32 {
        Digest.signing(chain: chain, type: .sessionReceipt, body: canonicalEncoding)
    }

    /// The receipt signed with the subscriber's key.
    public func signed(with key: SigningKey, chain: ChainID) -> SignedReceipt {
        SignedReceipt(receipt: self, signature: Signature(signing: signingDigest(chain: chain), with: key))
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.raw(session.raw)
        writer.address(subscriber)
        writer.u64(cumulativeBytes)
        writer.amount(cumulativeAmount)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        session = SessionID(try reader.bytes32("session"))
        subscriber = try reader.address("subscriber")
        cumulativeBytes = try reader.u64("cumulativeBytes")
        cumulativeAmount = try reader.amount("cumulativeAmount")
    }
}

/// A receipt with the subscriber's signature.
public struct SignedReceipt: Hashable, Sendable, CanonicalCodable {
    public var receipt: SessionReceipt
    public var signature: Signature

    public init(receipt: SessionReceipt, signature: Signature) {
        self.receipt = receipt
        self.signature = signature
    }

    /// Whether the subscriber named in the receipt signed it on `chain`.
    public func isValid(chain: ChainID) -> Bool {
        signature.isValid(for: receipt.signingDigest(chain: chain), by: receipt.subscriber)
    }

    public func encode(to writer: inout BinaryWriter) {
        receipt.encode(to: &writer)
        writer.signature(signature)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        receipt = try within("receipt") { () throws(DecodeError) in try SessionReceipt(from: &reader) }
        signature = try reader.signature("signature")
    }
}

/// An open prepaid session as the state keeps it. Its `escrow` is locked: counted in
/// the supply, spendable by nobody until settled (to the station) or closed (refunded).
public struct Session: Hashable, Sendable {
    public let id: SessionID
    public let subscriber: Address
    public let station: Address
    /// The price per 10^6 bytes, fixed when the session opened.
    public let pricePerMegabyte: Amount
    public let timeoutBlocks: UInt32
    public let openedAt: UInt64
    /// Locked escrow still unspent.
    public internal(set) var escrow: Amount
    public internal(set) var settledBytes: UInt64
    public internal(set) var settledAmount: Amount
    /// Height of the opening or the last settlement.
    public internal(set) var lastActivity: UInt64

    /// `lastActivity` defaults to `openedAt` (a fresh session); a store reloading a
    /// settled session passes the height of its last settlement.
    public init(id: SessionID, subscriber: Address, station: Address, pricePerMegabyte: Amount, timeoutBlocks: UInt32,
                openedAt: UInt64, escrow: Amount, settledBytes: UInt64 = 0, settledAmount: Amount = .zero,
                lastActivity: UInt64? = nil) {
        self.id = id
        self.subscriber = subscriber
        self.station = station
        self.pricePerMegabyte = pricePerMegabyte
        self.timeoutBlocks = timeoutBlocks
        self.openedAt = openedAt
        self.escrow = escrow
        self.settledBytes = settledBytes
        self.settledAmount = settledAmount
        self.lastActivity = lastActivity ?? openedAt
    }

    /// The first height at which the subscriber alone may close the session.
    public var subscriberMayCloseAt: UInt64 {
        let (height, overflow) = lastActivity.addingReportingOverflow(UInt64(timeoutBlocks))
        return overflow ? .max : height
    }
}
