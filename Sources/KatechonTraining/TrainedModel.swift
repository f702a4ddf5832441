import Foundation
import KatechonCheckpoint
import KatechonData
import KatechonModel

/// A trained model loaded from a `.kcpt` checkpoint with everything needed to feed it:
/// the training configuration (image size, normalisation), the metadata schema fitted on
/// the training split and the label specification.
public struct TrainedModel {
    public let file: URL
    public let manifest: CheckpointManifest
    public let model: MultimodalClassifier
    public let schema: MetadataSchema
    public let labelSpec: LabelSpec

    /// Reads and validates `path`; errors name the file and the reason.
    public static func load(path: String) throws -> TrainedModel {
        let url = try CheckpointDirectory.resolveCheckpointFile(path)
        let checkpoint = try CheckpointFile.read(url)
        let manifest = try TrainingSession.decodeManifest(checkpoint.manifest, file: url)
        let decoder = JSONDecoder()
        let modelConfig = try decoder.decode(ModelConfig.self, from: Data(manifest.modelJSON.utf8))
        let schema = try decoder.decode(MetadataSchema.self, from: Data(manifest.schemaJSON.utf8))
        let labelSpec = try decoder.decode(LabelSpec.self, from: Data(manifest.labelsJSON.utf8))
        let model = try MultimodalClassifier(config: modelConfig, seed: 0)
        try TrainingState.restore(checkpoint, model: model, optimizer: nil, optimizerStep: 0)
        return TrainedModel(file: url, manifest: manifest, model: model, schema: schema, labelSpec: labelSpec)
    }

    /// Returns a dataset over `table` and `images` encoded as in training. With `labelled`, every
    /// row needs a valid label in the training label column.
    public func dataset(table: CSVTable, images: ImageSource, labelled: Bool, skipBadImages: Bool) throws -> LesionDataset {
        let config = manifest.config
        let preprocessor = ImagePreprocessor(imageSize: config.imageSize, mean: config.mean, std: config.std)
        var options = LesionDataset.Options()
        options.skipBadImages = skipBadImages
        return try LesionDataset(table: table, images: images, labelSpec: labelled ? labelSpec : nil,
                                 schema: schema, preprocessor: preprocessor, options: options)
    }
}
