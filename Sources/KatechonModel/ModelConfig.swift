/// The shape of the whole classifier: ViT, metadata encoder, fusion and head.
///
/// It is stored in checkpoints and `config.json`, so it is `Codable`; `validate()`
/// rejects shapes that cannot be built.
public struct ModelConfig: Codable, Sendable, Equatable {
    /// The image encoder; ignored in `metadata` fusion mode.
    public var vit: ViTConfig
    /// M, the length of the encoded metadata vector; ignored in `image` fusion mode.
    public var metadataWidth: Int
    /// T, the number of metadata tokens (`--meta-tokens`).
    public var metaTokens: Int
    /// D, the fusion width of image and metadata tokens.
    public var fusionWidth: Int
    /// H, the attention heads of each cross-attention; D must be a multiple of H.
    public var fusionHeads: Int
    /// The hidden width of the metadata encoder.
    public var metadataHidden: Int
    /// The hidden width of the classification head.
    public var headHidden: Int
    /// C: 1 for a binary label (sigmoid), the number of classes otherwise (softmax).
    public var classCount: Int
    public var fusion: FusionMode
    /// The BCE weight of positive samples (`--pos-weight`); binary labels only.
    public var posWeight: Float?
    /// The label smoothing ε of the multiclass cross-entropy.
    public var labelSmoothing: Float

    public init(vit: ViTConfig, metadataWidth: Int, metaTokens: Int = 4, fusionWidth: Int = 256,
                fusionHeads: Int = 4, metadataHidden: Int = 256, headHidden: Int = 256,
                classCount: Int = 1, fusion: FusionMode = .mutual, posWeight: Float? = nil,
                labelSmoothing: Float = 0) {
        self.vit = vit
        self.metadataWidth = metadataWidth
        self.metaTokens = metaTokens
        self.fusionWidth = fusionWidth
        self.fusionHeads = fusionHeads
        self.metadataHidden = metadataHidden
        self.headHidden = headHidden
        self.classCount = classCount
        self.fusion = fusion
        self.posWeight = posWeight
        self.labelSmoothing = labelSmoothing
    }

    /// Width of the features the head reads, per fusion mode.
    public var headInputWidth: Int {
        switch fusion {
        case .mutual: return 4 * fusionWidth
        case .concat: return 2 * fusionWidth
        case .image: return vit.width
        case .metadata: return fusionWidth
        }
    }

    /// Throws `ModelConfigError` naming the first field that cannot be built.
    public func validate() throws {
        func require(_ condition: Bool, _ field: String, _ value: String, _ reason: String) throws {
            if !condition { throw ModelConfigError(field: field, value: value, reason: reason) }
        }
        try require(classCount >= 1, "classCount", "\(classCount)",
                    "use 1 for a binary label or the number of classes (at least 2)")
        try require(headHidden >= 1, "headHidden", "\(headHidden)", "must be at least 1")
        if fusion.usesMetadata {
            try require(metadataWidth >= 1, "metadataWidth", "\(metadataWidth)",
                        "the metadata vector is empty; choose at least one metadata column")
            try require(metaTokens >= 1, "metaTokens", "\(metaTokens)", "must be at least 1")
            try require(metadataHidden >= 1, "metadataHidden", "\(metadataHidden)", "must be at least 1")
        }
        if fusion != .image {
            try require(fusionWidth >= 1, "fusionWidth", "\(fusionWidth)", "must be at least 1")
        }
        if fusion == .mutual {
            try require(fusionHeads >= 1 && fusionWidth % fusionHeads == 0, "fusionHeads",
                        "\(fusionHeads)", "the fusion width \(fusionWidth) must be a multiple of it")
        }
        if fusion.usesImage {
            try require(vit.patchSize >= 1 && vit.imageSize >= vit.patchSize && vit.imageSize % vit.patchSize == 0,
                        "vit.imageSize", "\(vit.imageSize)",
                        "must be a positive multiple of the patch size \(vit.patchSize)")
            try require(vit.heads >= 1 && vit.width >= 1 && vit.width % vit.heads == 0, "vit.heads",
                        "\(vit.heads)", "the ViT width \(vit.width) must be a multiple of it")
            try require(vit.depth >= 1 && vit.mlpHidden >= 1, "vit.depth", "\(vit.depth)",
                        "depth and MLP width (\(vit.mlpHidden)) must be at least 1")
            try require((0...max(vit.depth, 0)).contains(vit.trainableBlocks), "vit.trainableBlocks",
                        "\(vit.trainableBlocks)", "must be between 0 and the depth \(vit.depth)")
        }
        if let posWeight {
            try require(classCount == 1, "posWeight", "\(posWeight)", "applies to a binary label only")
            try require(posWeight.isFinite && posWeight > 0, "posWeight", "\(posWeight)",
                        "must be a positive number")
        }
        try require(labelSmoothing >= 0 && labelSmoothing < 1, "labelSmoothing", "\(labelSmoothing)",
                    "must be in [0, 1)")
        try require(labelSmoothing == 0 || classCount >= 2, "labelSmoothing", "\(labelSmoothing)",
                    "applies to a multiclass label only")
    }
}

/// A model configuration that cannot be built.
public struct ModelConfigError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let value: String
    public let reason: String

    public var description: String {
        "invalid model configuration: \(field) = \(value): \(reason)"
    }
}
