import KatechonTensor

/// timm's `attn`: multi-head self-attention with a fused qkv projection.
///
///     qkv[R, 3D] = x Wqkvᵀ + bqkv           columns: q | k | v, head h at h·d in each
///     context[R, D] = softmax(q kᵀ / √d) v   per sample and head, over that sample's tokens
///     y[R, D] = context Wprojᵀ + bproj
///
/// - `qkv.weight` [3D, D], `qkv.bias` [3D], `proj.weight` [D, D], `proj.bias` [D].
/// - Shapes: B samples of N tokens, R = B·N rows, width D, H heads of width d = D / H.
/// - Initialisation: as `Linear` (truncated normal with std 0.02, zero bias).
public struct SelfAttention {
    public let qkv: Linear
    public let proj: Linear
    public let width: Int
    public let heads: Int

    public init(_ store: ParameterStore, name: String, width: Int, heads: Int, trainable: Bool) {
        precondition(width % heads == 0, "attention width \(width) is not divisible by \(heads) heads")
        self.width = width
        self.heads = heads
        qkv = Linear(store, name: "\(name).qkv", input: width, output: 3 * width, trainable: trainable)
        proj = Linear(store, name: "\(name).proj", input: width, output: width, trainable: trainable)
    }

    /// Activations of one forward pass: the fused projection, the attention
    /// probabilities and the context that `proj` reads.
    public final class Cache {
        public let qkv: Tensor
        public let probabilities: Tensor
        public let context: Tensor

        public init(batch: Int, tokens: Int, width: Int, heads: Int) {
            qkv = Tensor([batch * tokens, 3 * width])
            probabilities = Tensor([batch, heads, tokens, tokens])
            context = Tensor([batch * tokens, width])
        }

        public var floatCount: Int { qkv.count + probabilities.count + context.count }
    }

    func shape(batch: Int, tokens: Int) -> AttentionShape {
        AttentionShape(batch: batch, heads: heads, headDim: width / heads,
                       queryTokens: tokens, keyTokens: tokens)
    }

    /// y[R, D] = attention(x[R, D]); the intermediate values go to `cache`.
    public func forward(_ store: ParameterStore, input x: UnsafePointer<Float>, batch: Int, tokens: Int,
                        cache: Cache, output y: UnsafeMutablePointer<Float>) {
        let rows = batch * tokens
        let d = width
        let qkvRows = cache.qkv.pointer

        // qkv = x Wqkvᵀ + bqkv
        qkv.forward(store, input: x, rows: rows, output: qkvRows)

        // context = softmax(q kᵀ / √d) v, reading q, k and v in place from the fused rows
        Attention.forward(
            shape: shape(batch: batch, tokens: tokens),
            query: StridedRows(qkvRows, stride: 3 * d),
            key: StridedRows(qkvRows + d, stride: 3 * d),
            value: StridedRows(qkvRows + 2 * d, stride: 3 * d),
            probabilities: cache.probabilities.pointer,
            output: StridedRows(cache.context.pointer, stride: d))

        // y = context Wprojᵀ + bproj
        proj.forward(store, input: cache.context.pointer, rows: rows, output: y)
    }

    /// Accumulates the parameter gradients (when trainable) and writes dx.
    public func backward(_ store: ParameterStore, input x: UnsafePointer<Float>, batch: Int, tokens: Int,
                         cache: Cache, outputGradient dy: UnsafePointer<Float>,
                         inputGradient dx: UnsafeMutablePointer<Float>) {
        let rows = batch * tokens
        let d = width
        let qkvRows = cache.qkv.pointer
        let contextGradient = Tensor([rows, d])
        let qkvGradient = Tensor([rows, 3 * d])

        // from y = context Wprojᵀ + bproj
        proj.backward(store, input: cache.context.pointer, rows: rows, outputGradient: dy,
                      inputGradient: contextGradient.pointer)

        // from context = softmax(q kᵀ / √d) v: dq, dk and dv land in their column blocks
        let dqkv = qkvGradient.pointer
        Attention.backward(
            shape: shape(batch: batch, tokens: tokens),
            query: StridedRows(qkvRows, stride: 3 * d),
            key: StridedRows(qkvRows + d, stride: 3 * d),
            value: StridedRows(qkvRows + 2 * d, stride: 3 * d),
            probabilities: cache.probabilities.pointer,
            outputGradient: StridedRows(contextGradient.pointer, stride: d),
            queryGradient: StridedRows(dqkv, stride: 3 * d),
            keyGradient: StridedRows(dqkv + d, stride: 3 * d),
            valueGradient: StridedRows(dqkv + 2 * d, stride: 3 * d))

        // from qkv = x Wqkvᵀ + bqkv
        qkv.backward(store, input: x, rows: rows, outputGradient: dqkv, inputGradient: dx)
    }
}
