/// The choice of inputs that reach the head (`--fusion`), so one command runs each ablation.
///
/// - `mutual`: image and metadata tokens meet in the `MutualAttentionDecoder`.
/// - `concat`: late fusion; the projected image class token and the mean of the metadata
///   tokens are concatenated, [B, 2D], and go to the head.
/// - `image`: the ViT's class token feature [B, Dimg] alone goes to the head; no metadata
///   parameter is declared.
/// - `metadata`: the mean of the metadata tokens [B, D] alone goes to the head; the ViT is
///   not built.
public enum FusionMode: String, Codable, Sendable, CaseIterable {
    case mutual
    case concat
    case image
    case metadata

    /// Whether the model has an image encoder.
    public var usesImage: Bool { self != .metadata }

    /// Whether the model has a metadata encoder.
    public var usesMetadata: Bool { self != .image }
}
