import Foundation

/// A small deterministic random generator (SplitMix64) for parameter initialisation.
///
/// The same seed gives the same sequence on every machine and rank, which is what makes
/// initial parameters and resumed runs reproducible. It is not cryptographic.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// Derives a seed from several integers (for example seed, epoch and sample index),
    /// mixing each through the SplitMix64 finaliser so nearby inputs give unrelated seeds.
    public static func mix(_ parts: UInt64...) -> UInt64 {
        var accumulator: UInt64 = 0x9E37_79B9_7F4A_7C15
        for part in parts {
            var generator = RandomGenerator(seed: accumulator ^ part)
            accumulator = generator.next()
        }
        return accumulator
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Returns a uniform Float in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Returns a standard normal sample (Box-Muller on two uniforms).
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Returns a normal sample with standard deviation `std`, redrawn until it lies within
    /// two standard deviations, as timm's `trunc_normal_(std=0.02)` initialises ViT weights.
    public mutating func nextTruncatedNormal(std: Float) -> Float {
        while true {
            let sample = nextNormal()
            if abs(sample) <= 2 { return sample * std }
        }
    }
}
