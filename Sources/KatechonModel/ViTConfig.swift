/// The shape of a Vision Transformer image encoder, in timm's terms.
///
/// The image is cut into (imageSize / patchSize)² square patches, so `imageSize` must be
/// a multiple of `patchSize`. The class token comes first, so `tokenCount` is one more
/// than the number of patches. `width` must be a multiple of `heads`.
public struct ViTConfig: Codable, Sendable, Equatable {
    public var imageSize: Int
    public var patchSize: Int
    public var width: Int
    public var depth: Int
    public var heads: Int
    public var mlpHidden: Int
    /// The last `trainableBlocks` blocks and the final norm train; the patch embedding,
    /// class token, position embedding and the first `depth - trainableBlocks` blocks
    /// are frozen.
    public var trainableBlocks: Int
    public var layerNormEps: Float = 1e-6

    public init(imageSize: Int, patchSize: Int, width: Int, depth: Int, heads: Int,
                mlpHidden: Int, trainableBlocks: Int, layerNormEps: Float = 1e-6) {
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.width = width
        self.depth = depth
        self.heads = heads
        self.mlpHidden = mlpHidden
        self.trainableBlocks = trainableBlocks
        self.layerNormEps = layerNormEps
    }

    /// timm's `vit_tiny_patch16_*`: width 192, 3 heads, depth 12, patch 16, MLP 4×.
    public static func tiny(imageSize: Int = 224, trainableBlocks: Int = 5) -> ViTConfig {
        standard(imageSize: imageSize, width: 192, heads: 3, trainableBlocks: trainableBlocks)
    }

    /// timm's `vit_small_patch16_*`: width 384, 6 heads, depth 12, patch 16, MLP 4×.
    public static func small(imageSize: Int = 224, trainableBlocks: Int = 5) -> ViTConfig {
        standard(imageSize: imageSize, width: 384, heads: 6, trainableBlocks: trainableBlocks)
    }

    /// timm's `vit_base_patch16_*`: width 768, 12 heads, depth 12, patch 16, MLP 4×.
    public static func base(imageSize: Int = 224, trainableBlocks: Int = 5) -> ViTConfig {
        standard(imageSize: imageSize, width: 768, heads: 12, trainableBlocks: trainableBlocks)
    }

    private static func standard(imageSize: Int, width: Int, heads: Int, trainableBlocks: Int) -> ViTConfig {
        ViTConfig(imageSize: imageSize, patchSize: 16, width: width, depth: 12, heads: heads,
                  mlpHidden: 4 * width, trainableBlocks: trainableBlocks)
    }

    /// Patches along one side of the image.
    public var gridSize: Int { imageSize / patchSize }

    /// Patches per image.
    public var patchCount: Int { gridSize * gridSize }

    /// Tokens per image: the class token and one per patch.
    public var tokenCount: Int { 1 + patchCount }

    /// Width of one attention head.
    public var headDim: Int { width / heads }

    /// The first block that trains; blocks before it are frozen.
    public var firstTrainableBlock: Int { depth - trainableBlocks }

    /// Checks the invariants the layers rely on; a violation is a programmer error
    /// because command-line values are validated before a config is built.
    public func validate() {
        precondition(patchSize > 0 && imageSize > 0 && imageSize % patchSize == 0,
                     "ViT image size \(imageSize) is not a positive multiple of patch size \(patchSize)")
        precondition(heads > 0 && width % heads == 0,
                     "ViT width \(width) is not divisible by \(heads) heads")
        precondition(depth > 0 && mlpHidden > 0, "ViT depth \(depth) and MLP width \(mlpHidden) must be positive")
        precondition((0...depth).contains(trainableBlocks),
                     "ViT trainable blocks \(trainableBlocks) outside 0...\(depth)")
    }
}
