#if canImport(Glibc)
import Glibc
#endif

/// A small deterministic random number generator (SplitMix64): the same seed gives the
/// same sequence on every machine, which is what makes a scenario's schedule repeatable.
public struct SimRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// An independent stream for `index` under `seed` (one per subscriber, so the order in
    /// which subscribers draw numbers never changes anyone else's schedule).
    public init(seed: UInt64, stream index: UInt64) {
        var mixer = SimRandom(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        state = mixer.next() ^ SimRandom(seed: index &* 0xD6E8_FEB8_6659_FD93).next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * unit()
    }

    /// Log-uniform in [low, high): as many values in each decade of the range.
    public mutating func logUniform(_ low: Double, _ high: Double) -> Double {
        exp(log(low) + (log(high) - log(low)) * unit())
    }

    /// Exponentially distributed with `mean` (memoryless waiting times).
    public mutating func exponential(mean: Double) -> Double {
        -mean * log(1 - unit())
    }

    /// A stateless hash of a few numbers to [0, 1), for jitter that must not consume the stream.
    public static func hashUnit(_ values: UInt64...) -> Double {
        var generator = SimRandom(seed: 0x2545_F491_4F6C_DD1D)
        var mixed: UInt64 = 0
        for value in values {
            generator.state ^= value
            mixed ^= generator.next()
        }
        return Double(mixed >> 11) * 0x1p-53
    }
}
