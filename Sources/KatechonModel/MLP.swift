import KatechonTensor

/// timm's `mlp`: two fully connected layers with an exact GELU between them.
///
///     hidden[R, M] = x W1ᵀ + b1
///     y[R, D] = GELU(hidden) W2ᵀ + b2
///
/// - `fc1.weight` W1 [M, D], `fc1.bias` [M], `fc2.weight` W2 [D, M], `fc2.bias` [D].
/// - Shapes: R rows (B·N tokens), width D, hidden width M (4·D in the standard ViTs).
/// - Initialisation: as `Linear` (truncated normal with std 0.02, zero bias).
///
/// Only the pre-activation `hidden` is cached; backward recomputes GELU(hidden), which
/// halves the largest activation a trainable block keeps.
public struct MLP {
    public let fc1: Linear
    public let fc2: Linear
    public let width: Int
    public let hiddenWidth: Int

    public init(_ store: ParameterStore, name: String, width: Int, hiddenWidth: Int, trainable: Bool) {
        self.width = width
        self.hiddenWidth = hiddenWidth
        fc1 = Linear(store, name: "\(name).fc1", input: width, output: hiddenWidth, trainable: trainable)
        fc2 = Linear(store, name: "\(name).fc2", input: hiddenWidth, output: width, trainable: trainable)
    }

    /// y[R, D] = MLP(x[R, D]). `hidden` [R, M] receives the pre-activation; `activated`
    /// [R, M] is scratch for GELU(hidden) and may be shared between layers.
    public func forward(_ store: ParameterStore, input x: UnsafePointer<Float>, rows: Int,
                        hidden: UnsafeMutablePointer<Float>, activated: UnsafeMutablePointer<Float>,
                        output y: UnsafeMutablePointer<Float>) {
        // hidden = x W1ᵀ + b1
        fc1.forward(store, input: x, rows: rows, output: hidden)

        // y = GELU(hidden) W2ᵀ + b2
        GELU.forward(hidden, activated, count: rows * hiddenWidth)
        fc2.forward(store, input: activated, rows: rows, output: y)
    }

    /// Accumulates the parameter gradients (when trainable) and writes dx, given the
    /// `hidden` values that forward cached.
    public func backward(_ store: ParameterStore, input x: UnsafePointer<Float>, rows: Int,
                         hidden: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                         inputGradient dx: UnsafeMutablePointer<Float>) {
        let count = rows * hiddenWidth
        let activated = Tensor([rows, hiddenWidth])
        let derivative = Tensor([rows, hiddenWidth])
        let activatedGradient = Tensor([rows, hiddenWidth])

        // GELU(hidden) and GELU'(hidden), recomputed together from the cached hidden
        GELU.forwardWithDerivative(hidden, activated.pointer, derivative: derivative.pointer, count: count)

        // from y = GELU(hidden) W2ᵀ + b2
        fc2.backward(store, input: activated.pointer, rows: rows, outputGradient: dy,
                     inputGradient: activatedGradient.pointer)

        // from GELU: dhidden = dGELU · GELU'(hidden), in place
        let gradient = activatedGradient.pointer
        let slope = derivative.pointer
        ParallelFor.ranges(count, minimumPerThread: 65_536) { range in
            for i in range { gradient[i] = gradient[i] * slope[i] }
        }

        // from hidden = x W1ᵀ + b1
        fc1.backward(store, input: x, rows: rows, outputGradient: activatedGradient.pointer,
                     inputGradient: dx)
    }
}
