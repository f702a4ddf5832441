import Foundation

/// A SplitMix64 generator whose stream depends only on (seed, epoch, sample index), so
/// a sample gets the same augmentation and undersampling draws in the same epoch no
/// matter which batch, rank or resumed run requests it.
public struct SampleRandom: Sendable {
    private var state: UInt64

    /// Creates the generator for one (seed, epoch, index) triple. Each component passes
    /// through the SplitMix64 finaliser before the next is added, so nearby triples give
    /// unrelated streams.
    public init(seed: UInt64, epoch: Int, index: Int) {
        var mixed = SampleRandom.finalize(seed &+ 0x9E37_79B9_7F4A_7C15)
        mixed = SampleRandom.finalize(mixed ^ UInt64(bitPattern: Int64(epoch)) &+ 0xD1B5_4A32_D192_ED03)
        mixed = SampleRandom.finalize(mixed ^ UInt64(bitPattern: Int64(index)) &+ 0x8CB9_2BA7_2F3D_8DD7)
        state = mixed
    }

    /// Creates a generator from a raw 64-bit state.
    public init(state: UInt64) {
        self.state = state
    }

    /// Returns the next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SampleRandom.finalize(state)
    }

    /// Returns a uniform double in [0, 1) with 53 random bits.
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Returns a uniform double in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * unit()
    }

    /// Returns a uniform integer in `0..<bound` (bound > 0), without modulo bias.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let limit = UInt64(bound)
        let threshold = (0 &- limit) % limit
        while true {
            let value = next()
            if value >= threshold { return Int(value % limit) }
        }
    }

    /// Returns a normally distributed double (Box-Muller).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 0x1.0p-60)
        let u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Shuffles `values` in place (Fisher-Yates).
    public mutating func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(i, below(i + 1))
        }
    }

    static func finalize(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
