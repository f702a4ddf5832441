import KatechonTensor

/// Fuses image tokens and metadata tokens by attention in both directions, then pools
/// each stream into one vector per sample.
///
///     a_img  = CrossAttention_image(queries: I, keys/values: M)       [B, N, D]
///     a_meta = CrossAttention_metadata(queries: M, keys/values: I)    [B, T, D]
///     s_img  = [I, a_img]      skip step by concatenation             [B, N, 2D]
///     s_meta = [M, a_meta]                                            [B, T, 2D]
///     f = [mean_N s_img, mean_T s_meta]                               [B, 4D]
///
/// - `I` [B, N, D]: image tokens (class token and patches) already projected to the
///   fusion width D; `M` [B, T, D]: metadata tokens.
/// - Parameters: two `CrossAttention` layers, `image_attn` (image queries) and
///   `metadata_attn` (metadata queries); see `CrossAttention` for shapes and
///   initialisation.
/// - The mean of a concatenation is the concatenation of the means, so `f` is stored as
///   [mean I, mean a_img, mean M, mean a_meta] without building `s_img` and `s_meta`.
public struct MutualAttentionDecoder {
    public let imageAttention: CrossAttention
    public let metadataAttention: CrossAttention
    public let width: Int

    /// Width of the pooled output, 4D.
    public var outputWidth: Int { 4 * width }

    public init(_ store: ParameterStore, name: String, width: Int, heads: Int, trainable: Bool = true) {
        self.width = width
        imageAttention = CrossAttention(store, name: "\(name).image_attn", width: width, heads: heads,
                                        trainable: trainable)
        metadataAttention = CrossAttention(store, name: "\(name).metadata_attn", width: width,
                                           heads: heads, trainable: trainable)
    }

    /// Intermediate values of one forward pass, kept for backward.
    public final class Activations {
        public let image: CrossAttention.Activations
        public let metadata: CrossAttention.Activations
        /// f [B, 4D].
        public let output: Tensor

        init(image: CrossAttention.Activations, metadata: CrossAttention.Activations, output: Tensor) {
            self.image = image
            self.metadata = metadata
            self.output = output
        }
    }

    /// Computes f [B, 4D] from `imageTokens` [B, N, D] and `metadataTokens` [B, T, D].
    public func forward(_ store: ParameterStore, imageTokens: Tensor, metadataTokens: Tensor) -> Activations {
        let batch = imageTokens.shape[0]
        let d = width

        // a_img = CrossAttention_image(I, M);  a_meta = CrossAttention_metadata(M, I)
        let image = imageAttention.forward(store, queries: imageTokens, keysValues: metadataTokens)
        let metadata = metadataAttention.forward(store, queries: metadataTokens, keysValues: imageTokens)

        // f = [mean_N I, mean_N a_img, mean_T M, mean_T a_meta]
        let output = Tensor([batch, 4 * d])
        for b in 0..<batch {
            let f = output.pointer + b * 4 * d
            Self.meanPool(imageTokens.pointer, sample: b, tokens: imageTokens.shape[1], width: d, into: f)
            Self.meanPool(image.output.pointer, sample: b, tokens: imageTokens.shape[1], width: d, into: f + d)
            Self.meanPool(metadataTokens.pointer, sample: b, tokens: metadataTokens.shape[1], width: d,
                          into: f + 2 * d)
            Self.meanPool(metadata.output.pointer, sample: b, tokens: metadataTokens.shape[1], width: d,
                          into: f + 3 * d)
        }
        return Activations(image: image, metadata: metadata, output: output)
    }

    /// Accumulates the parameter gradients from dL/df [B, 4D] and returns dL/dI
    /// [B, N, D] and dL/dM [B, T, D] (new tensors).
    public func backward(_ store: ParameterStore, activations a: Activations,
                         outputGradient df: UnsafePointer<Float>)
        -> (imageGradient: Tensor, metadataGradient: Tensor) {
        let batch = a.output.shape[0]
        let n = a.image.shape.queryTokens
        let t = a.metadata.shape.queryTokens
        let d = width

        // from f = [mean_N I, mean_N a_img, mean_T M, mean_T a_meta]: each token of a
        // stream receives its slice of df divided by the stream's token count
        let dImage = Tensor([batch, n, d])
        let dImageAttended = Tensor([batch, n, d])
        let dMetadata = Tensor([batch, t, d])
        let dMetadataAttended = Tensor([batch, t, d])
        for b in 0..<batch {
            let g = df + b * 4 * d
            Self.spreadMean(g, sample: b, tokens: n, width: d, into: dImage.pointer)
            Self.spreadMean(g + d, sample: b, tokens: n, width: d, into: dImageAttended.pointer)
            Self.spreadMean(g + 2 * d, sample: b, tokens: t, width: d, into: dMetadata.pointer)
            Self.spreadMean(g + 3 * d, sample: b, tokens: t, width: d, into: dMetadataAttended.pointer)
        }

        // from a_meta = CrossAttention_metadata(M, I): dM += dx_q, dI += dx_kv
        let fromMetadata = metadataAttention.backward(store, activations: a.metadata,
                                                      outputGradient: dMetadataAttended.pointer)
        // from a_img = CrossAttention_image(I, M): dI += dx_q, dM += dx_kv
        let fromImage = imageAttention.backward(store, activations: a.image,
                                                outputGradient: dImageAttended.pointer)
        for i in 0..<dImage.count {
            dImage[i] += fromImage.queryGradient[i] + fromMetadata.keyValueGradient[i]
        }
        for i in 0..<dMetadata.count {
            dMetadata[i] += fromMetadata.queryGradient[i] + fromImage.keyValueGradient[i]
        }
        return (dImage, dMetadata)
    }

    /// Writes the mean over tokens of sample `sample` of x [B, tokens, width] into `mean` [width].
    static func meanPool(_ x: UnsafePointer<Float>, sample: Int, tokens: Int, width: Int,
                         into mean: UnsafeMutablePointer<Float>) {
        mean.update(repeating: 0, count: width)
        let base = x + sample * tokens * width
        for token in 0..<tokens {
            let row = base + token * width
            for j in 0..<width { mean[j] += row[j] }
        }
        let scale = 1 / Float(tokens)
        for j in 0..<width { mean[j] *= scale }
    }

    /// Writes g / tokens into every token row of sample `sample` of dx [B, tokens, width].
    static func spreadMean(_ g: UnsafePointer<Float>, sample: Int, tokens: Int, width: Int,
                           into dx: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(tokens)
        let base = dx + sample * tokens * width
        for token in 0..<tokens {
            let row = base + token * width
            for j in 0..<width { row[j] = g[j] * scale }
        }
    }
}
