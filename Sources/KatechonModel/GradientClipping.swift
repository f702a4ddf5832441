import KatechonTensor

/// Scales gradients so that their global L2 norm is at most a limit, as PyTorch's
/// `clip_grad_norm_` does.
///
///     n = ‖g‖₂ over the whole flat buffer (accumulated in Double)
///     g ← g · maxNorm / (n + 1e-6)        when that factor is below 1
///
/// The sum of squares runs over fixed blocks of `blockLength` values, four Double lanes
/// per block, and adds the block sums in block order. The blocks do not depend on the
/// thread count, so the norm is the same bit for bit on any number of threads.
public enum GradientClipping {
    static let blockLength = 16_384

    /// Clips `gradients` [count] in place and returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ gradients: UnsafeMutablePointer<Float>, count: Int,
                                      maxNorm: Float) -> Float {
        let blocks = (count + blockLength - 1) / blockLength
        let blockSums = UnsafeMutablePointer<Double>.allocate(capacity: max(blocks, 1))
        defer { blockSums.deallocate() }
        ParallelFor.ranges(blocks, minimumPerThread: 8) { range in
            for block in range {
                let start = block * blockLength
                blockSums[block] = Self.sumOfSquares(gradients + start, count: min(blockLength, count - start))
            }
        }
        var total: Double = 0
        for block in 0..<blocks { total += blockSums[block] }

        let norm = total.squareRoot()
        let factor = Double(maxNorm) / (norm + 1e-6)
        if factor < 1 {
            let scale = Float(factor)
            ParallelFor.ranges(count, minimumPerThread: 65_536) { range in
                for i in range { gradients[i] *= scale }
            }
        }
        return Float(norm)
    }

    /// Clips the trainable gradients of `store` and returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ store: ParameterStore, maxNorm: Float) -> Float {
        clipGlobalNorm(store.trainableGradients, count: store.trainableCount, maxNorm: maxNorm)
    }

    /// Σ x² over `count` values in four Double lanes, the lanes added at the end.
    private static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var lanes = SIMD4<Double>(repeating: 0)
        var i = 0
        while i + 4 <= count {
            let values = SIMD4<Double>(Double(x[i]), Double(x[i + 1]), Double(x[i + 2]), Double(x[i + 3]))
            lanes += values * values
            i += 4
        }
        var tail: Double = 0
        while i < count {
            let value = Double(x[i])
            tail += value * value
            i += 1
        }
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + tail
    }
}
