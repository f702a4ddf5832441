import Foundation

/// Every setting of a training run, as parsed from the command line.
///
/// It is written to `RUN_DIR/config.json` and stored in each checkpoint's manifest, so a
/// resumed run, `evaluate` and `predict` rebuild exactly the same model and inputs.
public struct TrainingConfig: Codable, Sendable, Equatable {
    // Data
    public var metadataPath: String?
    public var imagesPath: String
    public var outDirectory: String
    public var label = "target"
    public var categorical: [String]?
    public var numeric: [String]?
    public var skipBadImages = false

    // Model
    public var backbone = "tiny"
    public var imageSize = 224
    public var trainableBlocks = 5
    public var vitHeads: Int?
    public var fusion = "mutual"
    public var metaTokens = 4
    public var softLabel: Float = 0.01
    public var fusionWidth = 128
    public var fusionHeads = 4
    public var posWeight: Float?
    public var labelSmoothing: Float = 0

    // Optimisation
    public var epochs = 1
    public var steps: Int?
    public var batchSize = 32
    public var learningRate: Float = 3e-4
    public var weightDecay: Float = 0.05
    public var warmupSteps = 0
    public var gradClip: Float? = 1.0
    public var seed: UInt64 = 0

    // Sampling and inputs
    public var folds = 5
    public var fold = 0
    public var negativesPerPositive: Double?
    public var augment = false
    public var mean: [Float] = [0.5, 0.5, 0.5]
    public var std: [Float] = [0.5, 0.5, 0.5]

    // Checkpoints, evaluation and runtime
    public var checkpointEvery: Int?
    public var keep = 3
    public var resume: String?
    public var evalEvery: Int?
    public var logEvery = 10
    public var bucketMB: Double = 25
    public var gradCompression = "none"
    public var threads: Int?
    /// Compare a hash of every parameter across ranks after each step.
    public var checkReplicas = false

    public init(imagesPath: String, outDirectory: String) {
        self.imagesPath = imagesPath
        self.outDirectory = outDirectory
    }
}
