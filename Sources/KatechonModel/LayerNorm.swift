import Foundation
import KatechonTensor

/// Layer normalisation over the last dimension.
///
///     x̂ = (x − mean(x)) / sqrt(var(x) + eps)
///     y = x̂ ⊙ γ + β
///
/// - `weight` γ [D] initialised to ones, `bias` β [D] to zeros; eps is 1e-6 as in timm's
///   ViT (PyTorch's default would be 1e-5).
/// - Shapes: x, y [R, D]; the cache keeps mean and 1/std per row, [R] each.
public struct LayerNorm {
    public let weight: ParameterID
    public let bias: ParameterID
    public let width: Int
    public let eps: Float

    public init(_ store: ParameterStore, name: String, width: Int, trainable: Bool, eps: Float = 1e-6) {
        self.width = width
        self.eps = eps
        weight = store.declare("\(name).weight", [width], trainable: trainable, initializer: .ones)
        bias = store.declare("\(name).bias", [width], trainable: trainable, initializer: .zeros)
    }

    /// Per-row statistics kept from forward for backward.
    public final class Cache {
        public let mean: UnsafeMutablePointer<Float>
        public let inverseStd: UnsafeMutablePointer<Float>

        public init(rows: Int) {
            mean = .allocate(capacity: max(rows, 1))
            inverseStd = .allocate(capacity: max(rows, 1))
        }

        deinit {
            mean.deallocate()
            inverseStd.deallocate()
        }
    }

    /// y[R, D] = LayerNorm(x[R, D]); fills `cache` when given.
    public func forward(_ store: ParameterStore, input x: UnsafePointer<Float>, rows: Int,
                        output y: UnsafeMutablePointer<Float>, cache: Cache?) {
        let gamma = store.value(weight)
        let beta = store.value(bias)
        let d = width
        // Rows are independent, so they are split over the BLAS threads.
        ParallelFor.ranges(rows, minimumPerThread: Self.rowsPerThread(width: d)) { range in
            for r in range {
                let xr = x + r * d
                let yr = y + r * d
                var sum: Float = 0
                for j in 0..<d { sum += xr[j] }
                let mean = sum / Float(d)
                var squares: Float = 0
                for j in 0..<d {
                    let centred = xr[j] - mean
                    squares += centred * centred
                }
                let inverseStd = 1 / (squares / Float(d) + eps).squareRoot()
                for j in 0..<d { yr[j] = (xr[j] - mean) * inverseStd * gamma[j] + beta[j] }
                if let cache {
                    cache.mean[r] = mean
                    cache.inverseStd[r] = inverseStd
                }
            }
        }
    }

    /// Accumulates dγ and dβ (when trainable) and writes dx.
    public func backward(_ store: ParameterStore, input x: UnsafePointer<Float>, rows: Int,
                         cache: Cache, outputGradient dy: UnsafePointer<Float>,
                         inputGradient dx: UnsafeMutablePointer<Float>?) {
        let gamma = store.value(weight)
        let dGamma = store.gradient(weight)
        let dBeta = store.gradient(bias)
        let d = width
        let mean = cache.mean
        let inverseStd = cache.inverseStd

        // from y = x̂ γ + β: dγ += dy x̂ and dβ += dy. Each thread owns a range of
        // columns and adds the rows in order, so every sum keeps the serial order.
        if dGamma != nil || dBeta != nil {
            let columnsPerThread = rows * d >= 32_768 ? 1 : d
            ParallelFor.ranges(d, minimumPerThread: columnsPerThread) { columns in
                for r in 0..<rows {
                    let xr = x + r * d
                    let dyr = dy + r * d
                    for j in columns {
                        let xHat = (xr[j] - mean[r]) * inverseStd[r]
                        dGamma?[j] += dyr[j] * xHat
                        dBeta?[j] += dyr[j]
                    }
                }
            }
        }

        // from x̂ = (x − mean) / std and dx̂ = dy γ:
        // dx = (dx̂ − mean(dx̂) − x̂ mean(dx̂ x̂)) / std
        guard let dx else { return }
        ParallelFor.ranges(rows, minimumPerThread: Self.rowsPerThread(width: d)) { range in
            for r in range {
                let xr = x + r * d
                let dyr = dy + r * d
                let dxr = dx + r * d
                var meanDxHat: Float = 0
                var meanDxHatXHat: Float = 0
                for j in 0..<d {
                    let xHat = (xr[j] - mean[r]) * inverseStd[r]
                    let dxHat = dyr[j] * gamma[j]
                    meanDxHat += dxHat
                    meanDxHatXHat += dxHat * xHat
                }
                meanDxHat /= Float(d)
                meanDxHatXHat /= Float(d)
                for j in 0..<d {
                    let xHat = (xr[j] - mean[r]) * inverseStd[r]
                    dxr[j] = (dyr[j] * gamma[j] - meanDxHat - xHat * meanDxHatXHat) * inverseStd[r]
                }
            }
        }
    }

    /// Rows per thread below which a norm runs on one thread.
    private static func rowsPerThread(width: Int) -> Int {
        max(1, 16_384 / max(width, 1))
    }
}
