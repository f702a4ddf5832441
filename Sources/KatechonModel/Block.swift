import KatechonTensor

/// timm's pre-norm transformer `Block`.
///
///     x1 = x + attn(norm1(x))
///     y  = x1 + mlp(norm2(x1))
///
/// - Parameters: `norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2` (see
///   `LayerNorm`, `SelfAttention` and `MLP` for shapes and initialisation).
/// - Shapes: B samples of N tokens, R = B·N rows, width D, MLP hidden width M.
public struct Block {
    public let norm1: LayerNorm
    public let attn: SelfAttention
    public let norm2: LayerNorm
    public let mlp: MLP
    public let width: Int
    public let hiddenWidth: Int

    public init(_ store: ParameterStore, name: String, width: Int, heads: Int, hiddenWidth: Int,
                trainable: Bool, eps: Float = 1e-6) {
        self.width = width
        self.hiddenWidth = hiddenWidth
        norm1 = LayerNorm(store, name: "\(name).norm1", width: width, trainable: trainable, eps: eps)
        attn = SelfAttention(store, name: "\(name).attn", width: width, heads: heads, trainable: trainable)
        norm2 = LayerNorm(store, name: "\(name).norm2", width: width, trainable: trainable, eps: eps)
        mlp = MLP(store, name: "\(name).mlp", width: width, hiddenWidth: hiddenWidth, trainable: trainable)
    }

    /// The activations backward needs. A trainable block keeps its own; frozen blocks
    /// share one that each overwrites.
    public final class Cache {
        public let batch: Int
        public let tokens: Int
        public let input: Tensor
        public let norm1Statistics: LayerNorm.Cache
        public let norm1Output: Tensor
        public let attention: SelfAttention.Cache
        public let residual: Tensor
        public let norm2Statistics: LayerNorm.Cache
        public let norm2Output: Tensor
        public let hidden: Tensor

        public init(batch: Int, tokens: Int, width: Int, heads: Int, hiddenWidth: Int) {
            let rows = batch * tokens
            self.batch = batch
            self.tokens = tokens
            input = Tensor([rows, width])
            norm1Statistics = LayerNorm.Cache(rows: rows)
            norm1Output = Tensor([rows, width])
            attention = SelfAttention.Cache(batch: batch, tokens: tokens, width: width, heads: heads)
            residual = Tensor([rows, width])
            norm2Statistics = LayerNorm.Cache(rows: rows)
            norm2Output = Tensor([rows, width])
            hidden = Tensor([rows, hiddenWidth])
        }

        /// Floats held, counting the two per-row statistics of each norm.
        public var floatCount: Int {
            input.count + norm1Output.count + attention.floatCount + residual.count
                + norm2Output.count + hidden.count + 4 * batch * tokens
        }
    }

    /// Scratch that forward overwrites and that any number of blocks may share.
    public final class Workspace {
        public let activated: Tensor
        public let branch: Tensor

        public init(rows: Int, width: Int, hiddenWidth: Int) {
            activated = Tensor([rows, hiddenWidth])
            branch = Tensor([rows, width])
        }
    }

    /// x[R, D] ← Block(x), in place; backward reads its activations from `cache`.
    public func forward(_ store: ParameterStore, x: UnsafeMutablePointer<Float>,
                        cache: Cache, workspace: Workspace) {
        let (batch, tokens) = (cache.batch, cache.tokens)
        let rows = batch * tokens
        let count = rows * width
        let branch = workspace.branch.pointer
        cache.input.pointer.update(from: x, count: count)

        // x1 = x + attn(norm1(x))
        norm1.forward(store, input: x, rows: rows, output: cache.norm1Output.pointer,
                      cache: cache.norm1Statistics)
        attn.forward(store, input: cache.norm1Output.pointer, batch: batch, tokens: tokens,
                     cache: cache.attention, output: branch)
        Self.add(branch, into: x, count: count)
        cache.residual.pointer.update(from: x, count: count)

        // y = x1 + mlp(norm2(x1))
        norm2.forward(store, input: x, rows: rows, output: cache.norm2Output.pointer,
                      cache: cache.norm2Statistics)
        mlp.forward(store, input: cache.norm2Output.pointer, rows: rows, hidden: cache.hidden.pointer,
                    activated: workspace.activated.pointer, output: branch)
        Self.add(branch, into: x, count: count)
    }

    /// Accumulates the parameter gradients and turns `gradient` from dL/dy into dL/dx in
    /// place. With `needsInputGradient` false the last step (through norm1 into x) is
    /// skipped, so `gradient` ends as dL/dx1.
    public func backward(_ store: ParameterStore, cache: Cache, gradient: UnsafeMutablePointer<Float>,
                         needsInputGradient: Bool) {
        let (batch, tokens) = (cache.batch, cache.tokens)
        let rows = batch * tokens
        let count = rows * width
        let normGradient = Tensor([rows, width])
        let inputGradient = Tensor([rows, width])

        // from y = x1 + mlp(norm2(x1)): dx1 = dy + norm2ᵀ(mlpᵀ(dy))
        mlp.backward(store, input: cache.norm2Output.pointer, rows: rows, hidden: cache.hidden.pointer,
                     outputGradient: gradient, inputGradient: normGradient.pointer)
        norm2.backward(store, input: cache.residual.pointer, rows: rows, cache: cache.norm2Statistics,
                       outputGradient: normGradient.pointer, inputGradient: inputGradient.pointer)
        Self.add(inputGradient.pointer, into: gradient, count: count)

        // from x1 = x + attn(norm1(x)): dx = dx1 + norm1ᵀ(attnᵀ(dx1))
        attn.backward(store, input: cache.norm1Output.pointer, batch: batch, tokens: tokens,
                      cache: cache.attention, outputGradient: gradient, inputGradient: normGradient.pointer)
        norm1.backward(store, input: cache.input.pointer, rows: rows, cache: cache.norm1Statistics,
                       outputGradient: normGradient.pointer,
                       inputGradient: needsInputGradient ? inputGradient.pointer : nil)
        if needsInputGradient {
            Self.add(inputGradient.pointer, into: gradient, count: count)
        }
    }

    /// y[n] += x[n], split over the BLAS threads.
    private static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        ParallelFor.ranges(count, minimumPerThread: 65_536) { range in
            for i in range { y[i] += x[i] }
        }
    }
}
