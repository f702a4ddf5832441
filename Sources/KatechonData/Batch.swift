/// The inputs of one step for the samples a caller asked for, in the order asked.
public struct Batch: Sendable {
    /// The number of samples B.
    public var count: Int
    /// The side S of every image.
    public var imageSize: Int
    /// Normalised images, `[B, 3, S, S]`.
    public var pixels: [Float]
    /// Encoded metadata, `[B, M]` with M the schema width.
    public var metadata: [Float]
    /// Class indices, `[B]`; -1 where the dataset has no label column.
    public var labels: [Int32]
    /// The `isic_id` of each sample.
    public var ids: [String]
    /// The metadata table row of each sample.
    public var rowIndices: [Int]
    /// The `isic_id`s whose images could not be decoded and were replaced by a blank
    /// image (all channels at the normalisation mean), with the reason. Empty unless
    /// the dataset skips bad images.
    public var skippedImages: [(isicID: String, reason: String)]

    /// The metadata width M.
    public var metadataWidth: Int { count == 0 ? 0 : metadata.count / count }
}
