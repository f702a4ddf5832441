import KatechonTensor

/// A small fully connected network that turns each sample's encoded metadata vector into
/// T metadata tokens of the fusion width.
///
///     h = x W1ᵀ + b1          [B, hidden]
///     a = GELU(h)             [B, hidden]
///     t = a W2ᵀ + b2          [B, T·D], read as T tokens: [B, T, D]
///
/// - `x` [B, M] is the vector the data pipeline already encoded (soft one-hot categories,
///   standardised numbers and their missing indicators).
/// - `fc1.weight` [hidden, M], `fc1.bias` [hidden], `fc2.weight` [T·D, hidden],
///   `fc2.bias` [T·D].
/// - Initialisation: weights truncated normal with std 0.02, biases zero.
///
/// There is no separate per-token embedding: `fc2.bias`, read as [T, D], already is a
/// learned offset for each token, so an added embedding would be the same parameter twice.
/// There is no batch normalisation, so each sample's tokens depend on that sample alone.
public struct MetadataEncoder {
    public let fc1: Linear
    public let fc2: Linear
    public let inputWidth: Int
    public let hiddenWidth: Int
    public let tokenCount: Int
    public let width: Int

    public init(_ store: ParameterStore, name: String, input: Int, hidden: Int, tokens: Int,
                width: Int, trainable: Bool = true) {
        inputWidth = input
        hiddenWidth = hidden
        tokenCount = tokens
        self.width = width
        fc1 = Linear(store, name: "\(name).fc1", input: input, output: hidden, trainable: trainable)
        fc2 = Linear(store, name: "\(name).fc2", input: hidden, output: tokens * width,
                     trainable: trainable)
    }

    /// Inputs and intermediate values of one forward pass, kept for backward.
    public final class Activations {
        public let batch: Int
        /// x [B, M], a copy of the caller's input.
        public let input: Tensor
        /// h [B, hidden], before GELU.
        public let hidden: Tensor
        /// a [B, hidden], after GELU.
        public let activated: Tensor
        /// t [B, T, D].
        public let output: Tensor

        init(_ encoder: MetadataEncoder, batch: Int) {
            self.batch = batch
            input = Tensor([batch, encoder.inputWidth])
            hidden = Tensor([batch, encoder.hiddenWidth])
            activated = Tensor([batch, encoder.hiddenWidth])
            output = Tensor([batch, encoder.tokenCount, encoder.width])
        }
    }

    /// Computes the metadata tokens [B, T, D] of `metadata` [B, M].
    public func forward(_ store: ParameterStore, metadata: UnsafePointer<Float>,
                        batch: Int) -> Activations {
        let a = Activations(self, batch: batch)
        a.input.pointer.update(from: metadata, count: a.input.count)

        // h = x W1ᵀ + b1
        fc1.forward(store, input: a.input.pointer, rows: batch, output: a.hidden.pointer)

        // a = GELU(h)
        GELU.forward(a.hidden.pointer, a.activated.pointer, count: a.hidden.count)

        // t = a W2ᵀ + b2
        fc2.forward(store, input: a.activated.pointer, rows: batch, output: a.output.pointer)
        return a
    }

    /// Accumulates the parameter gradients from dL/dt [B, T, D]. The metadata vector is
    /// data, so no input gradient is computed.
    public func backward(_ store: ParameterStore, activations a: Activations,
                         outputGradient dt: UnsafePointer<Float>) {
        let dActivated = Tensor([a.batch, hiddenWidth])

        // from t = a W2ᵀ + b2: dW2, db2 and da
        fc2.backward(store, input: a.activated.pointer, rows: a.batch, outputGradient: dt,
                     inputGradient: dActivated.pointer)

        // from a = GELU(h): dh = da · GELU'(h), in place
        GELU.backward(a.hidden.pointer, outputGradient: dActivated.pointer,
                      inputGradient: dActivated.pointer, count: dActivated.count)

        // from h = x W1ᵀ + b1: dW1 and db1
        fc1.backward(store, input: a.input.pointer, rows: a.batch,
                     outputGradient: dActivated.pointer, inputGradient: nil)
    }
}
