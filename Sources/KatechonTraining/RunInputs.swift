import Foundation
import KatechonCheckpoint
import KatechonData
import KatechonModel

/// The data of a run: table, images, label, metadata schema, split, and the dataset that
/// turns sample indices into batches.
///
/// Every rank builds the same `RunInputs` from the same files: the split and the schema
/// are deterministic functions of the table and the seed, so no rank needs to send them.
public struct RunInputs {
    public let table: CSVTable
    public let images: ImageSource
    public let labelSpec: LabelSpec
    public let schema: MetadataSchema
    public let dataset: LesionDataset
    public let split: FoldSplit
    public let trainingIndices: [Int]
    public let validationIndices: [Int]

    /// Reads the metadata (CSV, or JSON sidecars beside the images) and opens the images.
    public static func openTable(metadataPath: String?, imagesPath: String) throws -> (CSVTable, ImageSource) {
        guard FileManager.default.fileExists(atPath: imagesPath) else {
            throw CommandLineError("--images \(imagesPath): no such file or folder")
        }
        if let metadataPath, !FileManager.default.fileExists(atPath: metadataPath) {
            throw CommandLineError("--metadata \(metadataPath): no such file")
        }
        let images = try openImageSource(path: imagesPath)
        return (try CSVTable.load(metadataPath: metadataPath, imagesPath: imagesPath), images)
    }

    /// Prepares the training inputs. With `schema` given (a resumed run), it is used as
    /// stored instead of being fitted again.
    public static func forTraining(config: TrainingConfig, schema storedSchema: MetadataSchema?,
                                   labelSpec storedLabelSpec: LabelSpec?) throws -> RunInputs {
        let (table, images) = try openTable(metadataPath: config.metadataPath, imagesPath: config.imagesPath)
        if storedLabelSpec == nil && !table.hasColumn(config.label) && table.hasColumn("benign_malignant") {
            throw CommandLineError("the metadata has no '\(config.label)' column but has 'benign_malignant'; pass --label benign_malignant (ISIC Archive records) or name another label column")
        }
        let labelSpec = try storedLabelSpec ?? LabelSpec.make(column: config.label, table: table)
        let preprocessor = ImagePreprocessor(imageSize: config.imageSize, mean: config.mean, std: config.std)
        var options = LesionDataset.Options()
        options.skipBadImages = config.skipBadImages

        // The split needs the samples' labels and groups, and the schema is fitted on the
        // training split only, so it is installed after the split.
        let empty = MetadataSchema(categorical: [], numeric: [], softLabel: config.softLabel)
        let dataset = try LesionDataset(table: table, images: images, labelSpec: labelSpec, schema: empty,
                                        preprocessor: preprocessor, options: options)
        let split = try FoldSplit.make(dataset: dataset, folds: config.folds, seed: config.seed)
        let trainingIndices = try split.trainingIndices(fold: config.fold)
        let validationIndices = try split.validationIndices(fold: config.fold)
        guard !trainingIndices.isEmpty else {
            throw CommandLineError("fold \(config.fold) of \(config.folds) leaves no training samples out of \(dataset.count)")
        }
        let trainingClasses = Set(trainingIndices.map { dataset.labels[$0] })
        guard trainingClasses.count >= 2 else {
            let only = trainingClasses.first.map { labelSpec.classes.indices.contains(Int($0)) ? labelSpec.classes[Int($0)] : "\($0)" } ?? "none"
            throw CommandLineError("the label column '\(labelSpec.column)' has only the class '\(only)' in the \(trainingIndices.count) training samples; a classifier needs at least two classes")
        }

        let schema: MetadataSchema
        if let storedSchema {
            schema = storedSchema
        } else {
            let defaults = MetadataSchema.defaultColumns(for: table, label: labelSpec.column)
            let numeric = config.numeric ?? defaults.numeric
            for name in numeric {
                let values = try table.numericColumn(name)
                guard trainingIndices.contains(where: { values[dataset.rows[$0]] != nil }) else {
                    throw CommandLineError("numeric column '\(name)' has no number in the \(trainingIndices.count) training rows; list it under --categorical if it contains categories")
                }
            }
            schema = try dataset.fitSchema(trainingSamples: trainingIndices,
                                           categorical: config.categorical ?? defaults.categorical,
                                           numeric: numeric, softLabel: config.softLabel)
        }
        try dataset.setSchema(schema)
        return RunInputs(table: table, images: images, labelSpec: labelSpec, schema: schema, dataset: dataset,
                         split: split, trainingIndices: trainingIndices, validationIndices: validationIndices)
    }
}

/// Builds the model a training configuration describes.
public enum ModelFactory {
    /// Returns the ViT shape for `--backbone`, and the weights when it names a file.
    public static func backbone(config: TrainingConfig) throws -> (ViTConfig, [String: ViTWeightLoader.Weight]?) {
        switch config.backbone {
        case "tiny", "small", "base":
            var vit: ViTConfig
            switch config.backbone {
            case "tiny": vit = .tiny(imageSize: config.imageSize, trainableBlocks: config.trainableBlocks)
            case "small": vit = .small(imageSize: config.imageSize, trainableBlocks: config.trainableBlocks)
            default: vit = .base(imageSize: config.imageSize, trainableBlocks: config.trainableBlocks)
            }
            guard config.imageSize % vit.patchSize == 0 else {
                throw CommandLineError("--image-size \(config.imageSize) must be a multiple of the patch size \(vit.patchSize)")
            }
            guard config.trainableBlocks <= vit.depth else {
                throw CommandLineError("--trainable-blocks \(config.trainableBlocks) exceeds the \(vit.depth) blocks of \(config.backbone)")
            }
            if let heads = config.vitHeads {
                guard heads > 0, vit.width % heads == 0 else {
                    throw CommandLineError("--vit-heads \(heads) does not divide the width \(vit.width)")
                }
                vit.heads = heads
            }
            return (vit, nil)
        default:
            let url = URL(fileURLWithPath: config.backbone)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw CommandLineError("--backbone \(config.backbone): not tiny, small or base, and no such file")
            }
            let weights = try readBackboneWeights(url)
            let vit = try ViTWeightLoader.inferConfig(from: weights, imageSize: config.imageSize,
                                                      heads: config.vitHeads, trainableBlocks: config.trainableBlocks)
            return (vit, weights)
        }
    }

    /// Reads a ViT weights file (timm or Hugging Face keys) into the loader's form.
    public static func readBackboneWeights(_ url: URL) throws -> [String: ViTWeightLoader.Weight] {
        var weights: [String: ViTWeightLoader.Weight] = [:]
        for tensor in try Safetensors.read(url).tensors {
            weights[tensor.name] = ViTWeightLoader.Weight(shape: tensor.shape, values: tensor.values)
        }
        return weights
    }

    /// Returns the model configuration for a run with the given metadata width and label.
    public static func modelConfig(config: TrainingConfig, vit: ViTConfig, metadataWidth: Int,
                                   classCount: Int) throws -> ModelConfig {
        guard let fusion = FusionMode(rawValue: config.fusion) else {
            throw CommandLineError("--fusion must be mutual, concat, image or metadata, got '\(config.fusion)'")
        }
        let model = ModelConfig(vit: vit, metadataWidth: metadataWidth, metaTokens: config.metaTokens,
                                fusionWidth: config.fusionWidth, fusionHeads: config.fusionHeads,
                                metadataHidden: 2 * config.fusionWidth, headHidden: config.fusionWidth,
                                classCount: classCount, fusion: fusion,
                                posWeight: classCount == 1 ? config.posWeight : nil,
                                labelSmoothing: config.labelSmoothing)
        try model.validate()
        return model
    }
}
