import KatechonTensor

/// The whole skin-lesion classifier: ViT image encoder, metadata encoder, fusion and head
/// over one `ParameterStore`.
///
///     X_img = VisionTransformer(pixels)            [B, N, Dimg]   (not in `metadata` mode)
///     z = FusionNetwork(X_img, x_meta)             [B, C]
///
/// - Parameters are declared in forward order (`image_encoder.*` with timm's names, then
///   `metadata_encoder.*`, `image_proj.*`, `decoder.*`, `head.*`), so the store lays the
///   trainable ones out in backward order and gradient buckets are slices that backward
///   completes from offset 0 upwards.
/// - No layer mixes samples (no batch normalisation, attention within each sample), so a
///   sample's logits do not depend on the rest of its batch.
public final class MultimodalClassifier {
    public let config: ModelConfig
    public let parameterStore: ParameterStore
    /// The image encoder; nil in `metadata` fusion mode.
    public let imageEncoder: VisionTransformer?
    public let fusion: FusionNetwork
    public let lossFunction: ClassificationLoss

    private var imageEncoderIsTrainable = false

    /// Builds the model for `config` and initialises every parameter from `seed`.
    public init(config: ModelConfig, seed: UInt64) throws {
        try config.validate()
        self.config = config
        let store = ParameterStore()
        parameterStore = store

        imageEncoder = config.fusion.usesImage
            ? VisionTransformer(store: store, config: config.vit, prefix: "image_encoder.")
            : nil
        let imageEntriesEnd = store.entries.count
        fusion = FusionNetwork(store: store, config: config, imageWidth: config.vit.width)
        lossFunction = ClassificationLoss(classCount: config.classCount, positiveWeight: config.posWeight,
                                          labelSmoothing: config.labelSmoothing)

        store.allocate(seed: seed)
        imageEncoderIsTrainable = store.entries[0..<imageEntriesEnd].contains { $0.trainable }
    }

    /// Computes the logits [B, C] of a batch.
    ///
    /// - `pixels` [B, 3, S, S] normalised images (unused in `metadata` mode) and
    ///   `metadata` [B, M] encoded metadata vectors (unused in `image` mode).
    /// - `training` keeps the activations that `backward` needs; with false they are
    ///   released as soon as they are used, for evaluation.
    public func forward(pixels: UnsafePointer<Float>?, metadata: UnsafePointer<Float>?, batch: Int,
                        training: Bool) -> Tensor {
        var imageTokens: Tensor?
        if let imageEncoder {
            guard let pixels else { preconditionFailure("fusion mode \(config.fusion) needs pixels") }
            imageTokens = imageEncoder.forwardFeatures(pixels: pixels, batch: batch, training: training)
        }
        return fusion.forward(imageTokens: imageTokens, metadata: metadata, batch: batch, training: training)
    }

    /// Returns the batch-mean loss and dL/dlogits for the logits of `forward`.
    public func loss(logits: Tensor, labels: [Int32]) -> (loss: Float, gradient: Tensor) {
        lossFunction.loss(logits: logits, labels: labels)
    }

    /// Returns σ(z) [B] for a binary label or softmax(z) [B·C] for a multiclass label.
    public func probabilities(logits: Tensor) -> [Float] {
        lossFunction.probabilities(logits: logits)
    }

    /// Accumulates the gradients of every trainable parameter into
    /// `parameterStore.trainableGradients` (call `parameterStore.zeroGradients()` first).
    /// The preceding `forward` must have run with `training: true`.
    ///
    /// `gradientsReady` receives strictly increasing offsets into the flat gradient buffer
    /// as layers finish; every gradient below a reported offset is final. The last
    /// reported offset is `parameterStore.trainableCount`.
    public func backward(logitGradient: Tensor, gradientsReady: ((Int) -> Void)?) {
        var lastReported = 0
        let report: (Int) -> Void = { offset in
            if offset > lastReported {
                lastReported = offset
                gradientsReady?(offset)
            }
        }

        let dImageTokens = fusion.backward(logitGradient: logitGradient, gradientsReady: report)

        // A wholly frozen image encoder has nothing to differentiate.
        if let imageEncoder, imageEncoderIsTrainable, let dImageTokens {
            imageEncoder.backwardFeatures(dImageTokens, gradientsReady: report)
        }
        report(parameterStore.trainableCount)
    }

    /// Names of the trainable parameters, in declaration order.
    public var trainableParameterNames: [String] {
        parameterStore.entries.filter(\.trainable).map(\.name)
    }

    /// Returns every parameter with its name, shape and values (a copy), in declaration order.
    public func namedParameters() -> [(name: String, shape: [Int], values: [Float])] {
        parameterStore.entries.indices.map { index in
            let entry = parameterStore.entries[index]
            return (entry.name, entry.shape, parameterStore.values(of: ParameterID(index: index)))
        }
    }

    /// Overwrites parameters by name.
    ///
    /// Every tensor in `tensors` must name a parameter of this model with the same shape. With
    /// `requireAll`, `tensors` must contain every parameter of the model. Nothing is changed when
    /// an error is thrown.
    public func loadParameters(_ tensors: [(name: String, shape: [Int], values: [Float])],
                               requireAll: Bool = true) throws {
        let store = parameterStore
        var ids: [ParameterID] = []
        for tensor in tensors {
            guard let id = store.id(named: tensor.name) else {
                throw ParameterLoadError.unexpectedTensor(name: tensor.name)
            }
            let expected = store.entries[id.index].shape
            if tensor.shape != expected || tensor.values.count != store.entries[id.index].count {
                throw ParameterLoadError.shapeMismatch(name: tensor.name, expected: expected,
                                                       found: tensor.shape)
            }
            ids.append(id)
        }
        if requireAll {
            let providedNames = Set(tensors.map(\.name))
            if let missing = store.entries.first(where: { !providedNames.contains($0.name) }) {
                throw ParameterLoadError.missingTensor(name: missing.name)
            }
        }
        for (id, tensor) in zip(ids, tensors) {
            store.setValues(tensor.values, of: id)
        }
    }
}

/// A set of named tensors that does not fit the model's parameters.
public enum ParameterLoadError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case missingTensor(name: String)
    case unexpectedTensor(name: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(name, expected, found):
            return "parameter \(name) has shape \(found) in the file but \(expected) in the model; "
                + "check that the model configuration matches the one the file was saved with"
        case let .missingTensor(name):
            return "parameter \(name) is missing from the file; "
                + "check that the file was saved from a model with the same configuration"
        case let .unexpectedTensor(name):
            return "tensor \(name) in the file is not a parameter of this model; "
                + "check the fusion mode and the model configuration"
        }
    }
}
