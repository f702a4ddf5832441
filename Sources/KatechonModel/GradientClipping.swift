/// Scales gradients so that their global L2 norm is at most a limit, as PyTorch's
/// `clip_grad_norm_` does.
///
///     n = ‖g‖₂ over the whole flat buffer (accumulated in Double)
///     g ← g · maxNorm / (n + 1e-6)        when that factor is below 1
public enum GradientClipping {
    /// Clips `gradients` [count] in place and returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ gradients: UnsafeMutablePointer<Float>, count: Int,
                                      maxNorm: Float) -> Float {
        var sumOfSquares: Double = 0
        for i in 0..<count {
            let g = Double(gradients[i])
            sumOfSquares += g * g
        }
        let norm = sumOfSquares.squareRoot()
        let factor = Double(maxNorm) / (norm + 1e-6)
        if factor < 1 {
            let scale = Float(factor)
            for i in 0..<count { gradients[i] *= scale }
        }
        return Float(norm)
    }

    /// Clips the trainable gradients of `store` and returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ store: ParameterStore, maxNorm: Float) -> Float {
        clipGlobalNorm(store.trainableGradients, count: store.trainableCount, maxNorm: maxNorm)
    }
}
