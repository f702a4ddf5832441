import KatechonDistributed
import XCTest

/// The 16-bit conversions behind compressed all-reduce, against independent references:
/// Swift's `Float16` conversion for binary16, and a nearest-neighbour search in Double
/// for bfloat16. Also the bucket partition, which needs no MPI.
final class GradientCompressionTests: XCTestCase {
    /// Edge cases: signed zeros, binary16 overflow threshold 65520 (a tie that rounds to
    /// infinity), the largest binary16 65504, subnormal boundaries 2^-14, 2^-24 and the
    /// tie 2^-25, ties between neighbours, infinities and NaN.
    private let edgeValues: [Float] = [
        0, -0.0, 1, -1, 65504, 65519.996, 65520, -65520, 70000, 0x1p-14, 0x1.ffcp-15,
        0x1p-24, 0x1p-25, 0x1.000002p-25, 0x1.8p-24, 3 * 0x1p-26, 1 + 0x1p-11, 1 + 3 * 0x1p-11,
        1 + 0x1p-8, 1 + 3 * 0x1p-8, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
        .leastNonzeroMagnitude, .infinity, -.infinity, .nan, 1e-8, 3.14159, -2.71828,
    ]

    /// Edge values followed by random bit patterns from a fixed-seed generator.
    private func testValues(randomCount: Int) -> [Float] {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        var values = edgeValues
        for _ in 0..<randomCount {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32)))
        }
        return values
    }

    #if !(os(macOS) && arch(x86_64))
    func testFP16EncodeMatchesSwiftFloat16() {
        var mismatches: [String] = []
        for value in testValues(randomCount: 200_000) {
            let got = GradientCompression.fp16.encode(value)
            let expected = Float16(value).bitPattern
            let bothNaN = value.isNaN && Float16(bitPattern: got).isNaN
            if got != expected && !bothNaN {
                mismatches.append("\(value) (0x\(String(value.bitPattern, radix: 16))): "
                                  + "got 0x\(String(got, radix: 16)), "
                                  + "expected 0x\(String(expected, radix: 16))")
            }
        }
        XCTAssertEqual(mismatches, [], "\(mismatches.count) values round differently")
    }

    func testFP16DecodeMatchesSwiftFloat16ForAllPatterns() {
        var mismatches = 0
        var first = ""
        for bits in 0...UInt16.max {
            let got = GradientCompression.fp16.decode(bits)
            let expected = Float(Float16(bitPattern: bits))
            if got.bitPattern != expected.bitPattern && !(got.isNaN && expected.isNaN) {
                if mismatches == 0 { first = "0x\(String(bits, radix: 16)): got \(got), expected \(expected)" }
                mismatches += 1
            }
        }
        XCTAssertEqual(mismatches, 0, "first mismatch \(first)")
    }
    #endif

    /// Nearest bfloat16 to `value` by comparing the two candidates that bracket it, in
    /// Double; ties go to the even bit pattern. As IEEE 754 rounds, the candidate above
    /// the largest finite bfloat16 is 2^128 (as if the exponent were unbounded), and
    /// choosing it means overflow to infinity.
    private func nearestBF16(_ value: Float) -> UInt16 {
        let truncated = UInt16(value.bitPattern >> 16)
        if value.isInfinite || value.bitPattern & 0xffff == 0 { return truncated }
        let below = Double(Float(bitPattern: UInt32(truncated) << 16))
        let next = Float(bitPattern: UInt32(truncated &+ 1) << 16)
        var above = Double(next)
        if next.isInfinite {
            above = next.sign == .minus ? -0x1p128 : 0x1p128
        }
        let distanceBelow = abs(Double(value) - below)
        let distanceAbove = abs(Double(value) - above)
        if distanceBelow < distanceAbove { return truncated }
        if distanceAbove < distanceBelow { return truncated &+ 1 }
        return truncated & 1 == 0 ? truncated : truncated &+ 1
    }

    func testBF16EncodeRoundsToNearestEven() {
        var mismatches: [String] = []
        for value in testValues(randomCount: 200_000) where !value.isNaN {
            let got = GradientCompression.bf16.encode(value)
            let expected = nearestBF16(value)
            if got != expected {
                mismatches.append("\(value): got 0x\(String(got, radix: 16)), "
                                  + "expected 0x\(String(expected, radix: 16))")
            }
        }
        XCTAssertEqual(mismatches, [], "\(mismatches.count) values round differently")

        // Known ties: 1 + 2^-8 lies halfway between 1 (even) and 1 + 2^-7 (odd); 1 + 3·2^-8
        // lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        XCTAssertEqual(GradientCompression.bf16.decode(GradientCompression.bf16.encode(1 + 0x1p-8)), 1)
        XCTAssertEqual(GradientCompression.bf16.decode(GradientCompression.bf16.encode(1 + 3 * 0x1p-8)),
                       1 + 0x1p-6)
        XCTAssertTrue(GradientCompression.bf16.decode(GradientCompression.bf16.encode(.nan)).isNaN)
    }

    func testBufferEncodeAppliesScale() {
        let source: [Float] = [1, -3, 0.1, 65504]
        var wire = [UInt16](repeating: 0, count: source.count)
        var decoded = [Float](repeating: 0, count: source.count)
        source.withUnsafeBufferPointer { input in
            wire.withUnsafeMutableBufferPointer { GradientCompression.fp16.encode(input, scale: 0.25, into: $0) }
        }
        wire.withUnsafeBufferPointer { input in
            decoded.withUnsafeMutableBufferPointer { GradientCompression.fp16.decode(input, into: $0) }
        }
        for (value, result) in zip(source, decoded) {
            let expected = Float(Float16(value * 0.25))
            XCTAssertEqual(result, expected, "fp16 of \(value) × 0.25")
        }
    }

    func testBucketRangesPartitionBuffer() {
        XCTAssertEqual(GradientReducer.bucketRanges(count: 10, bucketBytes: 16), [0..<4, 4..<8, 8..<10])
        XCTAssertEqual(GradientReducer.bucketRanges(count: 0, bucketBytes: 16), [])
        XCTAssertEqual(GradientReducer.bucketRanges(count: 3, bucketBytes: 1), [0..<1, 1..<2, 2..<3])
        XCTAssertEqual(GradientReducer.bucketRanges(count: 5, bucketBytes: 25 << 20), [0..<5])

        for (count, bytes) in [(1_000_003, 4096), (17, 20), (6_553_601, 25 << 20)] {
            let ranges = GradientReducer.bucketRanges(count: count, bucketBytes: bytes)
            XCTAssertEqual(ranges.first?.lowerBound, 0)
            XCTAssertEqual(ranges.last?.upperBound, count)
            for (previous, next) in zip(ranges, ranges.dropFirst()) {
                XCTAssertEqual(previous.upperBound, next.lowerBound, "gap or overlap at \(previous)")
                XCTAssertEqual(previous.count, bytes / 4, "bucket \(previous) of \(count), \(bytes) bytes")
            }
        }
    }
}
