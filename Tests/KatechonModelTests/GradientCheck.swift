import XCTest
import KatechonTensor
import KatechonModel

/// Central finite differences in Float32 for layer gradient checks.
///
/// The loss is L = Σ y ⊙ r with a fixed random r, so dL/dy = r. Each input element is
/// nudged by ±step and (L(+) − L(−)) / (2·step) is compared with the analytic gradient.
/// Float32 rounding limits the agreement, so the check is relative to the largest
/// gradient magnitude: max |analytic − numeric| ≤ tolerance · max(|numeric|, 1e-3).
enum GradientCheck {
    static let step: Float = 1e-2
    static let tolerance: Float = 1e-2

    /// Random values in [-scale, scale] from a fixed seed.
    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { _ in (2 * generator.nextUniform() - 1) * scale }
    }

    /// Σ y ⊙ r in double precision.
    static func weightedSum(_ y: [Float], _ r: [Float]) -> Double {
        zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Compares `analytic` with finite differences of `loss` over the elements of
    /// `values`, which `loss` reads through `set`.
    static func check(
        _ label: String, values: [Float], analytic: [Float],
        set: ([Float]) -> Void, loss: () -> Double,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(values.count, analytic.count, "\(label): gradient size", file: file, line: line)
        var numeric = [Float](repeating: 0, count: values.count)
        var perturbed = values
        for i in values.indices {
            perturbed[i] = values[i] + step
            set(perturbed)
            let plus = loss()
            perturbed[i] = values[i] - step
            set(perturbed)
            let minus = loss()
            perturbed[i] = values[i]
            numeric[i] = Float((plus - minus) / Double(2 * step))
        }
        set(values)

        let scale = max(numeric.map(abs).max() ?? 0, 1e-3)
        var worst: Float = 0
        var worstIndex = 0
        for i in values.indices where abs(analytic[i] - numeric[i]) > worst {
            worst = abs(analytic[i] - numeric[i])
            worstIndex = i
        }
        XCTAssertLessThanOrEqual(
            worst / scale, tolerance,
            "\(label): largest deviation \(worst) at \(worstIndex) (analytic \(analytic[worstIndex]), numeric \(numeric[worstIndex])), relative \(worst / scale) > tolerance \(tolerance)",
            file: file, line: line)
    }
}
