/// An Ed25519 public key: an account address, or a station's identity.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Whether `signature` is this key's signature of `message`.
    public func verify(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        signature.count == 64 && Sodium.ed25519Verify(signature, message, publicKey: bytes)
    }

    /// Lower-case hex.
    public var description: String { Hex.encode(bytes) }
}

/// An Ed25519 signing key, kept as its 32-byte seed.
public struct SigningKey: Sendable {
    public static let seedByteCount = 32
    public let publicKey: PublicKey
    private let secretKey: [UInt8]
    /// The seed the key derives from; what is stored on disk.
    public let seed: [UInt8]

    /// Derives the key from a 32-byte seed (RFC 8032's private key).
    public init?(seed: [UInt8]) {
        guard seed.count == Self.seedByteCount else { return nil }
        let pair = Sodium.ed25519SeedKeypair(seed: seed)
        self.seed = seed
        secretKey = pair.secretKey
        publicKey = PublicKey(bytes: pair.publicKey)!
    }

    /// A fresh key from the system's random source.
    public static func generate() -> SigningKey {
        SigningKey(seed: Sodium.randomBytes(seedByteCount))!
    }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        Sodium.ed25519Sign(message, secretKey: secretKey)
    }
}

/// Hash functions.
public enum Hash {
    /// BLAKE2b with an output of `length` bytes (1...64), optionally keyed (RFC 7693).
    public static func blake2b(_ message: [UInt8], length: Int = 32, key: [UInt8] = []) -> [UInt8] {
        precondition((1...64).contains(length) && key.count <= 64)
        return Sodium.blake2b(message, outputLength: length, key: key)
    }

    public static func sha256(_ message: [UInt8]) -> [UInt8] { Sodium.sha256(message) }
}

/// Cryptographically secure random bytes.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] { Sodium.randomBytes(count) }
}

/// Hexadecimal text.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex (either case); nil on an odd length or a non-hex character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
