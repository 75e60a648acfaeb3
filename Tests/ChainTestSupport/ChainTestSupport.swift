import Crypto
import Ledger

/// What the chain's test targets (Ledger, Consensus, ChainStore) share: deterministic keys,
/// amounts in whole QLC, and a seeded random generator.
public enum TestKeys {
    /// The key numbered `number` in a target's own `domain`, so targets never share keys by accident.
    public static func key(_ number: UInt8, domain: UInt8) -> SigningKey {
        SigningKey(seed: Hash.blake2b([domain, number], length: 32))!
    }
}

extension SigningKey {
    public var address: Address { Address(publicKey) }
}

/// `whole` QLC.
public func qlc(_ whole: UInt64) -> Amount { Amount.qlc(whole)! }

/// SplitMix64: seeded, so randomized tests replay exactly.
public struct SeededGenerator: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
