import KatechonTensor

/// The image encoder: timm's `VisionTransformer` up to `forward_features`.
///
///     x = [cls_token; patch_embed(pixels)] + pos_embed     [B, N, D]
///     x = blocks[depth − 1](… blocks[0](x))
///     tokens = norm(x)
///
/// - Parameters, named `prefix` + timm's names: `cls_token` [1, 1, D], `pos_embed`
///   [1, N, D], `patch_embed.proj.weight` [D, 3, p, p] and `.bias` [D],
///   `blocks.{i}.…` (see `Block`), `norm.weight` and `norm.bias` [D].
/// - Shapes: B images of 3 × S × S normalised pixels, N = 1 + (S / p)² tokens, width D.
/// - Training: the last `config.trainableBlocks` blocks and `norm` are trainable. The
///   patch embedding, class token, position embedding and earlier blocks are frozen: they
///   run forward only and keep no activations.
/// - Initialisation: `pos_embed` and linear weights truncated normal with std 0.02,
///   `cls_token` with std 1e-6, norms ones and zeros; pretrained weights come in
///   through `ViTWeightLoader`.
public final class VisionTransformer {
    public let config: ViTConfig
    public let store: ParameterStore
    public let prefix: String

    public let clsToken: ParameterID
    public let posEmbed: ParameterID
    public let patchEmbed: PatchEmbed
    public let blocks: [Block]
    public let norm: LayerNorm

    /// Activations of the last training forward, released by backward.
    private var blockCaches: [Block.Cache] = []
    private var normInput: Tensor?
    private var normStatistics: LayerNorm.Cache?

    /// Declares the encoder's parameters in `store`, which the caller allocates (or
    /// loads) before the first forward.
    public init(store: ParameterStore, config: ViTConfig, prefix: String) {
        config.validate()
        self.config = config
        self.store = store
        self.prefix = prefix
        let d = config.width
        let firstTrainable = config.firstTrainableBlock

        clsToken = store.declare("\(prefix)cls_token", [1, 1, d], trainable: false,
                                 initializer: .truncatedNormal(std: 1e-6))
        posEmbed = store.declare("\(prefix)pos_embed", [1, config.tokenCount, d], trainable: false,
                                 initializer: .truncatedNormal(std: 0.02))
        patchEmbed = PatchEmbed(store, name: "\(prefix)patch_embed", imageSize: config.imageSize,
                                patchSize: config.patchSize, width: d, trainable: false)
        blocks = (0..<config.depth).map { i in
            Block(store, name: "\(prefix)blocks.\(i)", width: d, heads: config.heads,
                  hiddenWidth: config.mlpHidden, trainable: i >= firstTrainable, eps: config.layerNormEps)
        }
        // The final norm trains with the last blocks; with no trainable block the whole
        // encoder is frozen.
        norm = LayerNorm(store, name: "\(prefix)norm", width: d, trainable: config.trainableBlocks > 0,
                         eps: config.layerNormEps)
    }

    /// Floats of activation kept for backward since the last training forward: the
    /// trainable blocks' caches and the final norm's input and statistics. Zero after
    /// an inference forward or after backward.
    public var cachedActivationFloatCount: Int {
        blockCaches.reduce(0) { $0 + $1.floatCount }
            + (normInput?.count ?? 0) + 2 * (normInput.map { $0.count / config.width } ?? 0)
    }

    /// pixels [B, 3, S, S] normalised → tokens [B, N, D] after the final norm.
    ///
    /// With `training` true the activations of the trainable blocks and the final norm
    /// are kept for `backwardFeatures`; frozen blocks never keep theirs.
    public func forwardFeatures(pixels: UnsafePointer<Float>, batch: Int, training: Bool) -> Tensor {
        precondition(store.isAllocated, "forwardFeatures before the parameter store is allocated")
        let (n, d) = (config.tokenCount, config.width)
        let rows = batch * n
        blockCaches = []
        normInput = nil
        normStatistics = nil

        // x = [cls_token; patch_embed(pixels)] + pos_embed
        let x = Tensor([batch, n, d])
        let patches = Tensor([batch * config.patchCount, patchEmbed.patchLength])
        patchEmbed.im2col(pixels, batch: batch, patches: patches.pointer)
        patchEmbed.forward(store, patches: patches.pointer, batch: batch, output: x.pointer + d,
                           outputSampleStride: n * d)
        let cls = store.value(clsToken)
        let pos = store.value(posEmbed)
        for b in 0..<batch {
            let sample = x.pointer + b * n * d
            sample.update(from: cls, count: d)
            for i in 0..<(n * d) { sample[i] += pos[i] }
        }

        // x = blocks(x); frozen blocks share one scratch cache
        let workspace = Block.Workspace(rows: rows, width: d, hiddenWidth: config.mlpHidden)
        var scratch: Block.Cache?
        for (i, block) in blocks.enumerated() {
            let cache: Block.Cache
            if training && i >= config.firstTrainableBlock {
                cache = makeBlockCache(batch: batch)
                blockCaches.append(cache)
            } else {
                if scratch == nil { scratch = makeBlockCache(batch: batch) }
                cache = scratch!
            }
            block.forward(store, x: x.pointer, cache: cache, workspace: workspace)
        }

        // tokens = norm(x)
        let tokens = Tensor([batch, n, d])
        let statistics = LayerNorm.Cache(rows: rows)
        norm.forward(store, input: x.pointer, rows: rows, output: tokens.pointer, cache: statistics)
        if training && config.trainableBlocks > 0 {
            normInput = x
            normStatistics = statistics
        }
        return tokens
    }

    /// dL/dtokens [B, N, D] → accumulates the gradients of the final norm and of the
    /// trainable blocks, last block first.
    ///
    /// `gradientsReady` receives `store.gradientEnd` of the first parameter of each layer
    /// as soon as that layer is done (the final norm, then each trainable block), so
    /// the offsets increase. Backward stops at the first trainable block: nothing flows
    /// into frozen blocks or the patch embedding.
    public func backwardFeatures(_ tokenGradient: Tensor, gradientsReady: ((Int) -> Void)?) {
        // A wholly frozen encoder has no gradient to compute.
        if config.trainableBlocks == 0 { return }
        guard let normInput, let normStatistics else {
            preconditionFailure("backwardFeatures without a preceding forwardFeatures(training: true)")
        }
        precondition(tokenGradient.count == normInput.count,
                     "token gradient has \(tokenGradient.count) floats, expected \(normInput.count)")
        let rows = normInput.count / config.width
        let gradient = Tensor(normInput.shape)

        // from tokens = norm(x)
        norm.backward(store, input: normInput.pointer, rows: rows, cache: normStatistics,
                      outputGradient: tokenGradient.pointer,
                      inputGradient: config.trainableBlocks > 0 ? gradient.pointer : nil)
        gradientsReady?(store.gradientEnd(norm.weight))

        // from x = blocks(x), trainable blocks only
        let first = config.firstTrainableBlock
        for i in stride(from: config.depth - 1, through: first, by: -1) {
            blocks[i].backward(store, cache: blockCaches[i - first], gradient: gradient.pointer,
                               needsInputGradient: i > first)
            gradientsReady?(store.gradientEnd(blocks[i].norm1.weight))
        }

        blockCaches = []
        self.normInput = nil
        self.normStatistics = nil
    }

    private func makeBlockCache(batch: Int) -> Block.Cache {
        Block.Cache(batch: batch, tokens: config.tokenCount, width: config.width,
                    heads: config.heads, hiddenWidth: config.mlpHidden)
    }
}
