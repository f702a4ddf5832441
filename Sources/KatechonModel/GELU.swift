import Foundation
import KatechonTensor

/// The exact Gaussian error linear unit (PyTorch's `nn.GELU()` default, not the tanh
/// approximation).
///
///     y = x · Φ(x) = 0.5 x (1 + erf(x / √2))
///     dy/dx = Φ(x) + x φ(x),  φ(x) = exp(−x²/2) / √(2π)
public enum GELU {
    private static let inverseSqrt2: Float = 0.707_106_781_186_547_5
    private static let inverseSqrt2Pi: Float = 0.398_942_280_401_432_7

    /// y[n] = GELU(x[n]); `y` may alias `x`. Large inputs are split over the BLAS
    /// threads, each element computed by one of them.
    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        ParallelFor.ranges(count) { range in
            for i in range {
                let v = x[i]
                y[i] = 0.5 * v * (1 + erff(v * inverseSqrt2))
            }
        }
    }

    /// dx[n] = dy[n] · GELU'(x[n]), given the forward input `x`; `dx` may alias `dy`.
    public static func backward(_ x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                                inputGradient dx: UnsafeMutablePointer<Float>, count: Int) {
        ParallelFor.ranges(count) { range in
            for i in range {
                let v = x[i]
                let cdf = 0.5 * (1 + erff(v * inverseSqrt2))
                let pdf = inverseSqrt2Pi * expf(-0.5 * v * v)
                dx[i] = dy[i] * (cdf + v * pdf)
            }
        }
    }

    /// y[n] = GELU(x[n]) and derivative[n] = GELU'(x[n]) in one pass, so erf runs once
    /// per value. `dx = dy · derivative` then equals `backward` bit for bit.
    static func forwardWithDerivative(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                      derivative: UnsafeMutablePointer<Float>, count: Int) {
        ParallelFor.ranges(count) { range in
            for i in range {
                let v = x[i]
                let erf = erff(v * inverseSqrt2)
                y[i] = 0.5 * v * (1 + erf)
                let cdf = 0.5 * (1 + erf)
                let pdf = inverseSqrt2Pi * expf(-0.5 * v * v)
                derivative[i] = cdf + v * pdf
            }
        }
    }
}
