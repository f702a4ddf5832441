import CMPIShim

/// Number format in which gradient buckets travel during the all-reduce.
///
/// With `.fp16` (IEEE 754 binary16) and `.bf16` (bfloat16) each rank scales its bucket by
/// 1 / world size and rounds it to 16 bits (round to nearest even). The ranks then sum the
/// 16-bit values with a user-defined MPI operation, which adds each pair in float and
/// rounds the partial sum back to 16 bits. The scaling happens first so the sum of N ranks stays
/// within the range of the gradients themselves (binary16 overflows above 65504).
///
/// Error bound of the average, per element, with N ranks and unit roundoff u (2^-11 for
/// binary16, 2^-8 for bfloat16) is N · u · m to first order, where m is the mean over
/// ranks of |gradient|. Each scaled value is rounded once (at most u · m in total), and
/// each of the N - 1 additions rounds a partial sum whose magnitude is at most m. Scaled
/// binary16 values below 2^-14 are subnormal and carry an absolute error of up to 2^-25
/// each instead.
public enum GradientCompression: String, CaseIterable, Sendable {
    case none
    case fp16
    case bf16

    /// Unit roundoff of the transport format: half the gap between 1 and the next value.
    public var unitRoundoff: Float {
        switch self {
        case .none: return 0x1p-24
        case .fp16: return 0x1p-11
        case .bf16: return 0x1p-8
        }
    }

    /// Rounds `source[i] * scale` to the 16-bit format into `destination[i]`.
    /// `.none` has no 16-bit form and is a programmer error here.
    public func encode(_ source: UnsafeBufferPointer<Float>, scale: Float,
                       into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(destination.count >= source.count, "destination shorter than source")
        guard let input = source.baseAddress, let output = destination.baseAddress else { return }
        switch self {
        case .none: preconditionFailure("GradientCompression.none has no 16-bit encoding")
        case .fp16: katechon_encode_fp16(input, scale, output, source.count)
        case .bf16: katechon_encode_bf16(input, scale, output, source.count)
        }
    }

    /// Widens each 16-bit `source[i]` to float into `destination[i]`; exact.
    public func decode(_ source: UnsafeBufferPointer<UInt16>,
                       into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count >= source.count, "destination shorter than source")
        guard let input = source.baseAddress, let output = destination.baseAddress else { return }
        switch self {
        case .none: preconditionFailure("GradientCompression.none has no 16-bit encoding")
        case .fp16: katechon_decode_fp16(input, output, source.count)
        case .bf16: katechon_decode_bf16(input, output, source.count)
        }
    }

    /// Rounds one float to the 16-bit format's bit pattern (nearest, ties to even).
    public func encode(_ value: Float) -> UInt16 {
        switch self {
        case .none: preconditionFailure("GradientCompression.none has no 16-bit encoding")
        case .fp16: return katechon_float_to_fp16(value)
        case .bf16: return katechon_float_to_bf16(value)
        }
    }

    /// Widens one 16-bit bit pattern to float.
    public func decode(_ bits: UInt16) -> Float {
        switch self {
        case .none: preconditionFailure("GradientCompression.none has no 16-bit encoding")
        case .fp16: return katechon_fp16_to_float(bits)
        case .bf16: return katechon_bf16_to_float(bits)
        }
    }
}
