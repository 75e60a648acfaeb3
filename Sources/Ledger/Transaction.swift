import Crypto

/// The signed part of a transaction.
public struct TransactionBody: Hashable, Sendable, CanonicalCodable {
    /// The chain it is for; any other chain rejects it as `wrongChain`.
    public var chain: ChainID
    /// The paying, signing account.
    public var sender: Address
    /// Strictly sequential per sender: the account's last nonce + 1 (the first is 1).
    public var nonce: UInt64
    /// Paid to the producer of the including block; at least the chain's minimum.
    public var fee: Amount
    /// The last block height that may include it (`UInt64.max`: no expiry).
    public var validUntil: UInt64
    public var payload: TransactionPayload

    public init(chain: ChainID, sender: Address, nonce: UInt64, fee: Amount,
                validUntil: UInt64 = .max, payload: TransactionPayload) {
        self.chain = chain
        self.sender = sender
        self.nonce = nonce
        self.fee = fee
        self.validUntil = validUntil
        self.payload = payload
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.raw(chain.raw)
        writer.address(sender)
        writer.u64(nonce)
        writer.amount(fee)
        writer.u64(validUntil)
        payload.encode(to: &writer)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        chain = ChainID(try reader.bytes32("chain"))
        sender = try reader.address("sender")
        nonce = try reader.u64("nonce")
        fee = try reader.amount("fee")
        validUntil = try reader.u64("validUntil")
        payload = try within("payload") { () throws(DecodeError) in try TransactionPayload(from: &reader) }
    }
}

/// A transaction as it travels and is stored: body, then the sender's 64-byte Ed25519
/// signature of `Digest.signing(chain: body.chain, type: .transaction, body: <body bytes>)`.
///
/// Values exist only through `init(decoding:)` or `sign(_:with:)`, which both go through
/// the decoder, so every `SignedTransaction` is well formed and keeps its exact bytes.
public struct SignedTransaction: Hashable, Sendable, CustomStringConvertible {
    public let body: TransactionBody
    public let signature: Signature
    /// The canonical encoding: the bytes hashed into `id`.
    public let encoded: [UInt8]
    /// H("qlink/txid/v1" ‖ encoded); covers the signature too.
    public let id: TransactionID
    /// What the sender signed.
    public let signingDigest: Bytes32

    /// Decodes a transaction; rejects more than `Limits.maxTransactionBytes` before reading.
    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        guard bytes.count <= Limits.maxTransactionBytes else {
            throw DecodeError(field: "transaction", reason: "\(bytes.count) bytes > \(Limits.maxTransactionBytes)")
        }
        self = try within("transaction") { () throws(DecodeError) in try SignedTransaction(unprefixed: bytes) }
    }

    /// Decodes with errors named relative to the transaction (inside a block's list).
    init(unprefixed bytes: [UInt8]) throws(DecodeError) {
        var reader = BinaryReader(bytes)
        let body = try TransactionBody(from: &reader)
        let signature = try reader.signature("signature")
        try reader.finish()
        self.body = body
        self.signature = signature
        encoded = bytes
        id = Digest.transactionID(signedEncoding: bytes)
        signingDigest = Digest.signing(chain: body.chain, type: .transaction, body: bytes[..<(bytes.count - Signature.count)])
    }

    /// Signs `body` with `key` (normally the sender's). Throws, naming the field, if the
    /// body breaks a limit or is not canonical (e.g. votes not in ascending order).
    public static func sign(_ body: TransactionBody, with key: SigningKey) throws(DecodeError) -> SignedTransaction {
        let bytes = body.canonicalEncoding
        let signature = Signature(signing: Digest.signing(chain: body.chain, type: .transaction, body: bytes), with: key)
        return try SignedTransaction(decoding: bytes + signature.bytes)
    }

    /// Checks every signature the transaction carries (the sender's, and the
    /// subscriber's on a settlement receipt): nil when all hold, else the failing field.
    /// Needs no state, so it can run on any core, once, before the transaction is applied.
    public func invalidSignatureField() -> String? {
        guard signature.isValid(for: signingDigest, by: body.sender) else { return "signature" }
        if case let .settleSession(receipt) = body.payload, !receipt.isValid(chain: body.chain) {
            return "payload.settleSession.signature"
        }
        return nil
    }

    public static func == (a: SignedTransaction, b: SignedTransaction) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// `tx <id> <payload> from <sender> #<nonce>`.
    public var description: String { "tx \(id) \(body.payload.name) from \(body.sender) #\(body.nonce)" }
}
