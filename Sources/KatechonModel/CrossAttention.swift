import KatechonTensor

/// Multi-head attention of one token stream (queries) over another (keys and values),
/// each sample attending only over its own tokens.
///
///     q = LN_q(x_q) Wqᵀ + bq            [B, Nq, D]
///     k = LN_kv(x_kv) Wkᵀ               [B, Nk, D]
///     v = LN_kv(x_kv) Wvᵀ + bv          [B, Nk, D]
///     o = softmax(q kᵀ / √d) v          per sample and head, [B, Nq, D]
///     y = o Wpᵀ + bp                    [B, Nq, D]
///
/// Shapes: D is the fusion width, H the number of heads and d = D / H the head width.
/// - `norm_q`, `norm_kv`: LayerNorm weight and bias [D] each (eps 1e-6).
/// - `q.weight`, `k.weight`, `v.weight`, `proj.weight` [D, D]; `q.bias`, `v.bias`,
///   `proj.bias` [D].
/// - Initialisation: weights truncated normal with std 0.02, biases zero, norms γ = 1, β = 0.
///
/// The key projection has no bias: a key bias adds q·b to every score of a query row,
/// which softmax cancels, so it would never receive a gradient.
public struct CrossAttention {
    public let normQuery: LayerNorm
    public let normKeyValue: LayerNorm
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let projection: Linear
    public let width: Int
    public let heads: Int

    public init(_ store: ParameterStore, name: String, width: Int, heads: Int,
                trainable: Bool = true) {
        precondition(heads > 0 && width % heads == 0,
                     "\(name): width \(width) is not a multiple of \(heads) heads")
        self.width = width
        self.heads = heads
        normQuery = LayerNorm(store, name: "\(name).norm_q", width: width, trainable: trainable)
        normKeyValue = LayerNorm(store, name: "\(name).norm_kv", width: width, trainable: trainable)
        query = Linear(store, name: "\(name).q", input: width, output: width, trainable: trainable)
        key = Linear(store, name: "\(name).k", input: width, output: width, bias: false,
                     trainable: trainable)
        value = Linear(store, name: "\(name).v", input: width, output: width, trainable: trainable)
        projection = Linear(store, name: "\(name).proj", input: width, output: width,
                            trainable: trainable)
    }

    /// Inputs and intermediate values of one forward pass, kept for backward.
    public final class Activations {
        public let shape: AttentionShape
        /// x_q [B, Nq, D] and x_kv [B, Nk, D], the caller's tensors (not copies).
        public let queryInput: Tensor
        public let keyValueInput: Tensor
        public let normQueryCache: LayerNorm.Cache
        public let normKeyValueCache: LayerNorm.Cache
        /// LN_q(x_q) [B, Nq, D] and LN_kv(x_kv) [B, Nk, D].
        public let normedQuery: Tensor
        public let normedKeyValue: Tensor
        public let q: Tensor
        public let k: Tensor
        public let v: Tensor
        /// softmax(q kᵀ / √d) [B, H, Nq, Nk].
        public let probabilities: Tensor
        /// o [B, Nq, D], the heads' outputs side by side.
        public let attended: Tensor
        /// y [B, Nq, D].
        public let output: Tensor

        init(shape: AttentionShape, queryInput: Tensor, keyValueInput: Tensor, width: Int) {
            self.shape = shape
            self.queryInput = queryInput
            self.keyValueInput = keyValueInput
            let queryRows = shape.batch * shape.queryTokens
            let keyRows = shape.batch * shape.keyTokens
            normQueryCache = LayerNorm.Cache(rows: queryRows)
            normKeyValueCache = LayerNorm.Cache(rows: keyRows)
            normedQuery = Tensor([shape.batch, shape.queryTokens, width])
            normedKeyValue = Tensor([shape.batch, shape.keyTokens, width])
            q = Tensor([shape.batch, shape.queryTokens, width])
            k = Tensor([shape.batch, shape.keyTokens, width])
            v = Tensor([shape.batch, shape.keyTokens, width])
            probabilities = Tensor([shape.batch, shape.heads, shape.queryTokens, shape.keyTokens])
            attended = Tensor([shape.batch, shape.queryTokens, width])
            output = Tensor([shape.batch, shape.queryTokens, width])
        }
    }

    /// Computes y [B, Nq, D] from `queries` [B, Nq, D] and `keysValues` [B, Nk, D].
    public func forward(_ store: ParameterStore, queries: Tensor, keysValues: Tensor) -> Activations {
        precondition(queries.shape.count == 3 && queries.shape[2] == width,
                     "queries have shape \(queries.shape), expected [B, Nq, \(width)]")
        precondition(keysValues.shape.count == 3 && keysValues.shape[2] == width
                     && keysValues.shape[0] == queries.shape[0],
                     "keys/values have shape \(keysValues.shape), expected [\(queries.shape[0]), Nk, \(width)]")
        let shape = AttentionShape(batch: queries.shape[0], heads: heads, headDim: width / heads,
                                   queryTokens: queries.shape[1], keyTokens: keysValues.shape[1])
        let a = Activations(shape: shape, queryInput: queries, keyValueInput: keysValues, width: width)
        let queryRows = shape.batch * shape.queryTokens
        let keyRows = shape.batch * shape.keyTokens

        // LN_q(x_q) and LN_kv(x_kv)
        normQuery.forward(store, input: queries.pointer, rows: queryRows,
                          output: a.normedQuery.pointer, cache: a.normQueryCache)
        normKeyValue.forward(store, input: keysValues.pointer, rows: keyRows,
                             output: a.normedKeyValue.pointer, cache: a.normKeyValueCache)

        // q = LN_q(x_q) Wqᵀ + bq;  k = LN_kv(x_kv) Wkᵀ;  v = LN_kv(x_kv) Wvᵀ + bv
        query.forward(store, input: a.normedQuery.pointer, rows: queryRows, output: a.q.pointer)
        key.forward(store, input: a.normedKeyValue.pointer, rows: keyRows, output: a.k.pointer)
        value.forward(store, input: a.normedKeyValue.pointer, rows: keyRows, output: a.v.pointer)

        // o = softmax(q kᵀ / √d) v, per sample and head
        Attention.forward(shape: shape,
                          query: StridedRows(a.q.pointer, stride: width),
                          key: StridedRows(a.k.pointer, stride: width),
                          value: StridedRows(a.v.pointer, stride: width),
                          probabilities: a.probabilities.pointer,
                          output: StridedRows(a.attended.pointer, stride: width))

        // y = o Wpᵀ + bp
        projection.forward(store, input: a.attended.pointer, rows: queryRows, output: a.output.pointer)
        return a
    }

    /// Accumulates the parameter gradients from dL/dy [B, Nq, D] and returns the input
    /// gradients dL/dx_q [B, Nq, D] and dL/dx_kv [B, Nk, D] (new tensors).
    public func backward(_ store: ParameterStore, activations a: Activations,
                         outputGradient dy: UnsafePointer<Float>)
        -> (queryGradient: Tensor, keyValueGradient: Tensor) {
        let shape = a.shape
        let queryRows = shape.batch * shape.queryTokens
        let keyRows = shape.batch * shape.keyTokens
        let dAttended = Tensor([shape.batch, shape.queryTokens, width])
        let dq = Tensor([shape.batch, shape.queryTokens, width])
        let dk = Tensor([shape.batch, shape.keyTokens, width])
        let dv = Tensor([shape.batch, shape.keyTokens, width])

        // from y = o Wpᵀ + bp: dWp, dbp and do
        projection.backward(store, input: a.attended.pointer, rows: queryRows, outputGradient: dy,
                            inputGradient: dAttended.pointer)

        // from o = softmax(q kᵀ / √d) v: dq, dk and dv
        Attention.backward(shape: shape,
                           query: StridedRows(a.q.pointer, stride: width),
                           key: StridedRows(a.k.pointer, stride: width),
                           value: StridedRows(a.v.pointer, stride: width),
                           probabilities: a.probabilities.pointer,
                           outputGradient: StridedRows(dAttended.pointer, stride: width),
                           queryGradient: StridedRows(dq.pointer, stride: width),
                           keyGradient: StridedRows(dk.pointer, stride: width),
                           valueGradient: StridedRows(dv.pointer, stride: width))

        // from q = LN_q(x_q) Wqᵀ + bq: dWq, dbq and dLN_q
        let dNormedQuery = Tensor([shape.batch, shape.queryTokens, width])
        query.backward(store, input: a.normedQuery.pointer, rows: queryRows, outputGradient: dq.pointer,
                       inputGradient: dNormedQuery.pointer)

        // from k = LN_kv(x_kv) Wkᵀ and v = LN_kv(x_kv) Wvᵀ + bv: dWk, dWv, dbv and
        // dLN_kv = dk Wk + dv Wv
        let dNormedKeyValue = Tensor([shape.batch, shape.keyTokens, width])
        let dNormedFromValue = Tensor([shape.batch, shape.keyTokens, width])
        key.backward(store, input: a.normedKeyValue.pointer, rows: keyRows, outputGradient: dk.pointer,
                     inputGradient: dNormedKeyValue.pointer)
        value.backward(store, input: a.normedKeyValue.pointer, rows: keyRows, outputGradient: dv.pointer,
                       inputGradient: dNormedFromValue.pointer)
        for i in 0..<dNormedKeyValue.count { dNormedKeyValue[i] += dNormedFromValue[i] }

        // from LN_q(x_q) and LN_kv(x_kv): dγ, dβ of both norms and the input gradients
        let dQueryInput = Tensor(a.queryInput.shape)
        let dKeyValueInput = Tensor(a.keyValueInput.shape)
        normQuery.backward(store, input: a.queryInput.pointer, rows: queryRows, cache: a.normQueryCache,
                           outputGradient: dNormedQuery.pointer, inputGradient: dQueryInput.pointer)
        normKeyValue.backward(store, input: a.keyValueInput.pointer, rows: keyRows,
                              cache: a.normKeyValueCache, outputGradient: dNormedKeyValue.pointer,
                              inputGradient: dKeyValueInput.pointer)
        return (dQueryInput, dKeyValueInput)
    }
}
