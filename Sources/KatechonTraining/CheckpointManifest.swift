import Foundation

/// The JSON manifest stored in every `.kcpt` checkpoint.
///
/// It carries everything besides tensors that is needed to rebuild the model and its
/// inputs (`config`, `schemaJSON`, `labelsJSON`), to continue training at the same place
/// (`step`, `epoch`, `samplesSeen`, `optimizerStep`), and to judge compatibility
/// (`formatName`, `worldSize`, `globalBatch`). Augmentation and sampling draw from
/// generators seeded by (seed, epoch, sample index) alone, so no per-rank generator state
/// needs saving: `rngStates` records that fact for readers of the manifest.
public struct CheckpointManifest: Codable, Sendable {
    public static let currentFormat = "katechon-checkpoint"

    public var formatName = CheckpointManifest.currentFormat
    public var config: TrainingConfig
    /// The metadata schema (vocabularies, scalers) as JSON, fitted on the training split.
    public var schemaJSON: String
    /// The label specification (column, class names) as JSON.
    public var labelsJSON: String
    /// The model configuration as JSON.
    public var modelJSON: String
    public var step: Int
    public var epoch: Int
    /// Steps of `epoch` already taken, of `globalBatch` samples each.
    public var stepInEpoch: Int
    public var samplesSeen: Int
    public var optimizerStep: Int
    public var worldSize: Int
    public var globalBatch: Int
    public var totalSteps: Int
    public var rngStates: [String: String]
    public var metricsHistory: [EvaluationRecord]
    public var createdAt: String
}

/// One validation result, kept in the manifest's history.
public struct EvaluationRecord: Codable, Sendable, Equatable {
    public var step: Int
    public var epoch: Int
    public var metrics: [String: Double]
}
