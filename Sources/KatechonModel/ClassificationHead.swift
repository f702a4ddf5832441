import KatechonTensor

/// A two-layer fully connected head from a fused feature vector to class logits.
///
///     h = f W1ᵀ + b1          [B, hidden]
///     a = GELU(h)             [B, hidden]
///     z = a W2ᵀ + b2          [B, C]
///
/// - `f` [B, F]: the fused features (4D for mutual fusion).
/// - `fc1.weight` [hidden, F], `fc1.bias` [hidden], `fc2.weight` [C, hidden], `fc2.bias` [C];
///   C = 1 for a binary label.
/// - Initialisation: weights truncated normal with std 0.02, biases zero.
public struct ClassificationHead {
    public let fc1: Linear
    public let fc2: Linear
    public let inputWidth: Int
    public let hiddenWidth: Int
    public let classCount: Int

    public init(_ store: ParameterStore, name: String, input: Int, hidden: Int, classes: Int,
                trainable: Bool = true) {
        inputWidth = input
        hiddenWidth = hidden
        classCount = classes
        fc1 = Linear(store, name: "\(name).fc1", input: input, output: hidden, trainable: trainable)
        fc2 = Linear(store, name: "\(name).fc2", input: hidden, output: classes, trainable: trainable)
    }

    /// Inputs and intermediate values of one forward pass, kept for backward.
    public final class Activations {
        public let batch: Int
        /// f [B, F], the caller's tensor (not a copy).
        public let input: Tensor
        /// h [B, hidden] before GELU and a [B, hidden] after it.
        public let hidden: Tensor
        public let activated: Tensor
        /// z [B, C].
        public let logits: Tensor

        init(_ head: ClassificationHead, input: Tensor) {
            batch = input.shape[0]
            self.input = input
            hidden = Tensor([batch, head.hiddenWidth])
            activated = Tensor([batch, head.hiddenWidth])
            logits = Tensor([batch, head.classCount])
        }
    }

    /// Computes the logits z [B, C] from `features` [B, F].
    public func forward(_ store: ParameterStore, features: Tensor) -> Activations {
        precondition(features.shape.count == 2 && features.shape[1] == inputWidth,
                     "head features have shape \(features.shape), expected [B, \(inputWidth)]")
        let a = Activations(self, input: features)

        // h = f W1ᵀ + b1
        fc1.forward(store, input: features.pointer, rows: a.batch, output: a.hidden.pointer)

        // a = GELU(h)
        GELU.forward(a.hidden.pointer, a.activated.pointer, count: a.hidden.count)

        // z = a W2ᵀ + b2
        fc2.forward(store, input: a.activated.pointer, rows: a.batch, output: a.logits.pointer)
        return a
    }

    /// Accumulates the parameter gradients from dL/dz [B, C] and returns dL/df [B, F].
    public func backward(_ store: ParameterStore, activations a: Activations,
                         logitGradient dz: UnsafePointer<Float>) -> Tensor {
        let dActivated = Tensor([a.batch, hiddenWidth])
        let dFeatures = Tensor([a.batch, inputWidth])

        // from z = a W2ᵀ + b2: dW2, db2 and da
        fc2.backward(store, input: a.activated.pointer, rows: a.batch, outputGradient: dz,
                     inputGradient: dActivated.pointer)

        // from a = GELU(h): dh = da · GELU'(h), in place
        GELU.backward(a.hidden.pointer, outputGradient: dActivated.pointer,
                      inputGradient: dActivated.pointer, count: dActivated.count)

        // from h = f W1ᵀ + b1: dW1, db1 and df
        fc1.backward(store, input: a.input.pointer, rows: a.batch, outputGradient: dActivated.pointer,
                     inputGradient: dFeatures.pointer)
        return dFeatures
    }
}
