import KatechonTensor

/// Everything after the image encoder: metadata encoder, image projection, fusion and
/// head, from image tokens and metadata vectors to logits.
///
///     M = MetadataEncoder(x_meta)                      [B, T, D]
///     I = X_img W_projᵀ + b_proj                       [B, N, D]   (every image token)
///     f = MutualAttentionDecoder(I, M)                 [B, 4D]     (mutual)
///       = [X_img[:, 0] W_projᵀ + b_proj, mean_T M]     [B, 2D]     (concat)
///       = X_img[:, 0]                                  [B, Dimg]   (image)
///       = mean_T M                                     [B, D]      (metadata)
///     z = ClassificationHead(f)                        [B, C]
///
/// - `X_img` [B, N, Dimg]: the image encoder's tokens after its final norm, class token
///   first; `x_meta` [B, M]: the encoded metadata vectors.
/// - Parameters, in declaration (forward) order: `metadata_encoder.*` (not in `image`
///   mode), `image_proj.weight` [D, Dimg] and `image_proj.bias` [D] (`mutual` and
///   `concat` only), `decoder.*` (`mutual` only), `head.*`. All are trainable.
/// - Initialisation: see each layer; weights truncated normal with std 0.02, biases zero.
public final class FusionNetwork {
    public let config: ModelConfig
    /// Dimg, the width of the image tokens.
    public let imageWidth: Int
    public let metadataEncoder: MetadataEncoder?
    public let imageProjection: Linear?
    public let decoder: MutualAttentionDecoder?
    public let head: ClassificationHead
    public let store: ParameterStore

    private var metadataActivations: MetadataEncoder.Activations?
    private var imageTokens: Tensor?
    private var imageTokenShape: [Int]?
    private var classTokenFeatures: Tensor?
    private var projectedTokens: Tensor?
    private var decoderActivations: MutualAttentionDecoder.Activations?
    private var headActivations: ClassificationHead.Activations?

    /// Declares the parameters in `store`; the caller allocates the store afterwards.
    public init(store: ParameterStore, config: ModelConfig, imageWidth: Int) {
        self.store = store
        self.config = config
        self.imageWidth = imageWidth
        let d = config.fusionWidth

        metadataEncoder = config.fusion.usesMetadata
            ? MetadataEncoder(store, name: "metadata_encoder", input: config.metadataWidth,
                              hidden: config.metadataHidden, tokens: config.metaTokens, width: d)
            : nil
        imageProjection = config.fusion == .mutual || config.fusion == .concat
            ? Linear(store, name: "image_proj", input: imageWidth, output: d, trainable: true)
            : nil
        decoder = config.fusion == .mutual
            ? MutualAttentionDecoder(store, name: "decoder", width: d, heads: config.fusionHeads)
            : nil
        let headInput = config.fusion == .image ? imageWidth : config.headInputWidth
        head = ClassificationHead(store, name: "head", input: headInput, hidden: config.headHidden,
                                  classes: config.classCount)
    }

    /// Computes the logits [B, C] from `imageTokens` [B, N, Dimg] (nil in `metadata`
    /// mode) and `metadata` [B, M] (nil in `image` mode).
    ///
    /// With `training` true the activations stay for `backward`; otherwise they are
    /// released when forward returns.
    public func forward(imageTokens: Tensor?, metadata: UnsafePointer<Float>?, batch: Int,
                        training: Bool = true) -> Tensor {
        precondition(batch >= 1, "batch \(batch) must be at least 1")
        let mode = config.fusion
        let d = config.fusionWidth
        self.imageTokens = imageTokens
        imageTokenShape = imageTokens?.shape
        if mode.usesImage {
            guard let imageTokens else { preconditionFailure("fusion mode \(mode) needs image tokens") }
            precondition(imageTokens.shape.count == 3 && imageTokens.shape[0] == batch
                         && imageTokens.shape[2] == imageWidth,
                         "image tokens have shape \(imageTokens.shape), expected [\(batch), N, \(imageWidth)]")
        }

        // M = MetadataEncoder(x_meta)
        var metadataTokens: Tensor?
        if let metadataEncoder {
            guard let metadata else { preconditionFailure("fusion mode \(mode) needs metadata") }
            let activations = metadataEncoder.forward(store, metadata: metadata, batch: batch)
            metadataActivations = activations
            metadataTokens = activations.output
        }

        // f, per fusion mode
        let features: Tensor
        switch mode {
        case .mutual:
            // I = X_img W_projᵀ + b_proj;  f = MutualAttentionDecoder(I, M)
            let tokens = imageTokens!
            let projected = Tensor([batch, tokens.shape[1], d])
            imageProjection!.forward(store, input: tokens.pointer, rows: batch * tokens.shape[1],
                                     output: projected.pointer)
            projectedTokens = projected
            let activations = decoder!.forward(store, imageTokens: projected, metadataTokens: metadataTokens!)
            decoderActivations = activations
            features = activations.output
        case .concat:
            // f = [X_img[:, 0] W_projᵀ + b_proj, mean_T M]
            let classTokens = Self.classTokens(imageTokens!)
            classTokenFeatures = classTokens
            let projected = Tensor([batch, d])
            imageProjection!.forward(store, input: classTokens.pointer, rows: batch, output: projected.pointer)
            features = Tensor([batch, 2 * d])
            for b in 0..<batch {
                (features.pointer + b * 2 * d).update(from: projected.pointer + b * d, count: d)
                MutualAttentionDecoder.meanPool(metadataTokens!.pointer, sample: b, tokens: config.metaTokens,
                                                width: d, into: features.pointer + b * 2 * d + d)
            }
        case .image:
            // f = X_img[:, 0]
            features = Self.classTokens(imageTokens!)
        case .metadata:
            // f = mean_T M
            features = Tensor([batch, d])
            for b in 0..<batch {
                MutualAttentionDecoder.meanPool(metadataTokens!.pointer, sample: b, tokens: config.metaTokens,
                                                width: d, into: features.pointer + b * d)
            }
        }

        // z = ClassificationHead(f)
        let activations = head.forward(store, features: features)
        headActivations = activations
        if !training { releaseActivations() }
        return activations.logits
    }

    /// Accumulates every parameter gradient from dL/dz [B, C] and returns dL/dX_img
    /// [B, N, Dimg] (nil in `metadata` mode).
    ///
    /// `gradientsReady` receives increasing flat offsets into `store.trainableGradients`
    /// as layers finish: every gradient below a reported offset is complete.
    public func backward(logitGradient dz: Tensor, gradientsReady: ((Int) -> Void)?) -> Tensor? {
        guard let headActivations else {
            preconditionFailure("backward needs a preceding forward with training: true")
        }
        defer { releaseActivations() }
        let mode = config.fusion
        let batch = headActivations.batch
        let d = config.fusionWidth

        // from z = ClassificationHead(f)
        let dFeatures = head.backward(store, activations: headActivations, logitGradient: dz.pointer)
        gradientsReady?(store.gradientEnd(head.fc1.weight))

        var dImageTokens: Tensor?
        var dMetadataTokens: Tensor?
        switch mode {
        case .mutual:
            // from f = MutualAttentionDecoder(I, M)
            let decoder = decoder!
            let fromDecoder = decoder.backward(store, activations: decoderActivations!,
                                               outputGradient: dFeatures.pointer)
            gradientsReady?(store.gradientEnd(decoder.imageAttention.normQuery.weight))
            dMetadataTokens = fromDecoder.metadataGradient

            // from I = X_img W_projᵀ + b_proj
            let tokens = imageTokens!
            let dTokens = Tensor(tokens.shape)
            imageProjection!.backward(store, input: tokens.pointer, rows: batch * tokens.shape[1],
                                      outputGradient: fromDecoder.imageGradient.pointer,
                                      inputGradient: dTokens.pointer)
            gradientsReady?(store.gradientEnd(imageProjection!.weight))
            dImageTokens = dTokens
        case .concat:
            // from f = [X_img[:, 0] W_projᵀ + b_proj, mean_T M]
            let dProjected = Tensor([batch, d])
            let dPooled = Tensor([batch, d])
            for b in 0..<batch {
                (dProjected.pointer + b * d).update(from: dFeatures.pointer + b * 2 * d, count: d)
                (dPooled.pointer + b * d).update(from: dFeatures.pointer + b * 2 * d + d, count: d)
            }
            let dClassTokens = Tensor([batch, imageWidth])
            imageProjection!.backward(store, input: classTokenFeatures!.pointer, rows: batch,
                                      outputGradient: dProjected.pointer, inputGradient: dClassTokens.pointer)
            gradientsReady?(store.gradientEnd(imageProjection!.weight))
            dMetadataTokens = Self.spreadMeans(dPooled, tokens: config.metaTokens)
            dImageTokens = dClassTokens
        case .image:
            // from f = X_img[:, 0]
            dImageTokens = dFeatures
        case .metadata:
            // from f = mean_T M
            dMetadataTokens = Self.spreadMeans(dFeatures, tokens: config.metaTokens)
        }

        // from M = MetadataEncoder(x_meta)
        if let metadataEncoder, let dMetadataTokens {
            metadataEncoder.backward(store, activations: metadataActivations!,
                                     outputGradient: dMetadataTokens.pointer)
            gradientsReady?(store.gradientEnd(metadataEncoder.fc1.weight))
        }

        // In concat and image modes only the class token reached the head.
        guard let dImageTokens, let tokenShape = imageTokenShape else { return nil }
        if mode == .mutual { return dImageTokens }
        let full = Tensor(tokenShape)
        let perSample = tokenShape[1] * imageWidth
        for b in 0..<batch {
            (full.pointer + b * perSample).update(from: dImageTokens.pointer + b * imageWidth, count: imageWidth)
        }
        return full
    }

    private func releaseActivations() {
        metadataActivations = nil
        imageTokens = nil
        classTokenFeatures = nil
        projectedTokens = nil
        decoderActivations = nil
        headActivations = nil
    }

    /// X[:, 0] [B, Dimg], the class token of each sample of X [B, N, Dimg].
    static func classTokens(_ tokens: Tensor) -> Tensor {
        let (batch, n, width) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
        let result = Tensor([batch, width])
        for b in 0..<batch {
            (result.pointer + b * width).update(from: tokens.pointer + b * n * width, count: width)
        }
        return result
    }

    /// dM [B, T, D] from the gradient of its token mean g [B, D].
    static func spreadMeans(_ g: Tensor, tokens: Int) -> Tensor {
        let (batch, width) = (g.shape[0], g.shape[1])
        let result = Tensor([batch, tokens, width])
        for b in 0..<batch {
            MutualAttentionDecoder.spreadMean(g.pointer + b * width, sample: b, tokens: tokens, width: width,
                                              into: result.pointer)
        }
        return result
    }
}
