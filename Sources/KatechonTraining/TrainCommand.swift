import Foundation

/// `katechon-dist train`: options and their mapping onto `TrainingConfig`.
public enum TrainCommand {
    static let dataOptions: [OptionSpec] = [
        .value("--metadata", "FILE.csv", "metadata CSV (ISIC 2024 layout); omit for a folder of images with JSON sidecars"),
        .value("--images", "PATH", "HDF5 file (ISIC 2024 layout) or folder of <isic_id>.jpg|.jpeg|.png"),
        .value("--label", "COLUMN", "label column: target (0/1), benign_malignant, or a multiclass column", default: "target"),
        .value("--categorical", "A,B", "categorical metadata columns (default: ISIC 2024 columns present)"),
        .value("--numeric", "C,D", "numeric metadata columns (default: ISIC 2024 columns present)"),
        .flag("--skip-bad-images", "score undecodable images as blank ones and report them at the end of each epoch, instead of stopping"),
    ]

    static let options: [OptionSpec] = dataOptions + [
        .value("--out", "RUN_DIR", "run directory for config.json, metrics.jsonl and checkpoints/"),
        .value("--backbone", "NAME|FILE", "tiny, small, base (random init) or a timm/Hugging Face ViT .safetensors file", default: "tiny"),
        .value("--image-size", "PIXELS", "side of the square model input", default: "224"),
        .value("--trainable-blocks", "K", "train the last K ViT blocks and the final norm; the rest is frozen", default: "5"),
        .value("--vit-heads", "H", "attention heads of a weights-file backbone (default width/64)"),
        .value("--fusion", "MODE", "mutual, concat, image or metadata", default: "mutual"),
        .value("--meta-tokens", "T", "metadata tokens produced by the metadata encoder", default: "4"),
        .value("--soft-label", "VALUE", "value replacing the zeros of one-hot metadata vectors", default: "0.01"),
        .value("--fusion-width", "D", "width of the fusion tokens", default: "128"),
        .value("--fusion-heads", "H", "heads of the mutual-attention decoder", default: "4"),
        .value("--pos-weight", "W", "weight of positive samples in the binary loss (default 1)"),
        .value("--label-smoothing", "E", "label smoothing of the multiclass loss", default: "0"),
        .value("--epochs", "N", "epochs to train (ignored when --steps is given)", default: "1"),
        .value("--steps", "N", "optimizer steps to train (default: --epochs x steps per epoch)"),
        .value("--batch-size", "N", "samples per rank per step (global batch = ranks x N)", default: "32"),
        .value("--lr", "RATE", "peak learning rate of AdamW", default: "3e-4"),
        .value("--weight-decay", "W", "AdamW decoupled weight decay (not on biases, norms, embeddings)", default: "0.05"),
        .value("--warmup-steps", "N", "linear warmup steps before cosine decay", default: "0"),
        .value("--grad-clip", "NORM", "clip the global gradient L2 norm to this value; 0 disables", default: "1.0"),
        .value("--seed", "S", "seed for initialisation, splits, sampling and augmentation", default: "0"),
        .value("--folds", "K", "patient-grouped, label-stratified folds", default: "5"),
        .value("--fold", "I", "fold used for validation (0-based)", default: "0"),
        .value("--neg-per-pos", "R", "draw R negatives per positive afresh each epoch (default: use every negative)"),
        .flag("--augment", "flips, 90-degree rotations, affine, brightness, contrast and hue jitter"),
        .value("--mean", "R,G,B", "per-channel normalisation mean", default: "0.5,0.5,0.5"),
        .value("--std", "R,G,B", "per-channel normalisation std", default: "0.5,0.5,0.5"),
        .value("--checkpoint-every", "STEPS", "write a checkpoint every STEPS steps (default: only at the end, which is always written)"),
        .value("--keep", "N", "keep the newest N checkpoints plus the best by validation metric", default: "3"),
        .value("--resume", "auto|FILE", "continue from RUN_DIR/checkpoints/latest or from FILE"),
        .value("--eval-every", "STEPS", "validate every STEPS steps (default: at the end of each epoch)"),
        .value("--log-every", "STEPS", "log a progress line and a metrics.jsonl record every STEPS steps", default: "10"),
        .value("--bucket-mb", "MB", "gradient all-reduce bucket size in MiB", default: "25"),
        .value("--grad-compression", "MODE", "none, fp16 or bf16 gradients on the wire", default: "none"),
        .value("--threads", "N", "BLAS threads per rank (default: cores / ranks on this node)"),
        .flag("--check-replicas", "after every step, check that all ranks hold identical parameters (costs a hash per step)"),
    ]

    public static let subcommand = Subcommand(
        name: "train",
        usage: "katechon-dist train --metadata FILE.csv --images PATH --out RUN_DIR [options]",
        summary: "Train the multimodal classifier, data-parallel over the ranks of mpirun.",
        options: options,
        run: { options in
            let config = try makeConfig(options)
            return try Trainer.run(config: config)
        })

    /// Builds the configuration from the parsed options, rejecting invalid combinations.
    public static func makeConfig(_ options: ParsedOptions) throws -> TrainingConfig {
        var config = TrainingConfig(imagesPath: try options.required("--images"),
                                    outDirectory: try options.required("--out"))
        config.metadataPath = options.string("--metadata")
        config.label = options.string("--label")!
        config.categorical = options.list("--categorical")
        config.numeric = options.list("--numeric")
        config.skipBadImages = options.flag("--skip-bad-images")

        config.backbone = options.string("--backbone")!
        config.imageSize = try options.int("--image-size")!
        config.trainableBlocks = try options.int("--trainable-blocks")!
        config.vitHeads = try options.int("--vit-heads")
        config.fusion = options.string("--fusion")!
        config.metaTokens = try options.int("--meta-tokens")!
        config.softLabel = Float(try options.double("--soft-label")!)
        config.fusionWidth = try options.int("--fusion-width")!
        config.fusionHeads = try options.int("--fusion-heads")!
        config.posWeight = try options.double("--pos-weight").map(Float.init)
        config.labelSmoothing = Float(try options.double("--label-smoothing")!)

        config.epochs = try options.int("--epochs")!
        config.steps = try options.int("--steps")
        config.batchSize = try options.int("--batch-size")!
        config.learningRate = Float(try options.double("--lr")!)
        config.weightDecay = Float(try options.double("--weight-decay")!)
        config.warmupSteps = try options.int("--warmup-steps")!
        let clip = Float(try options.double("--grad-clip")!)
        guard clip >= 0 else { throw CommandLineError("--grad-clip must not be negative, got \(clip)") }
        config.gradClip = clip > 0 ? clip : nil
        guard let seed = UInt64(options.string("--seed")!) else {
            throw CommandLineError("option --seed expects a non-negative integer, got '\(options.string("--seed")!)'")
        }
        config.seed = seed

        config.folds = try options.int("--folds")!
        config.fold = try options.int("--fold")!
        config.negativesPerPositive = try options.double("--neg-per-pos")
        config.augment = options.flag("--augment")
        config.mean = try options.triple("--mean")!
        config.std = try options.triple("--std")!

        config.checkpointEvery = try options.int("--checkpoint-every")
        config.keep = try options.int("--keep")!
        config.resume = options.string("--resume")
        config.evalEvery = try options.int("--eval-every")
        config.logEvery = try options.int("--log-every")!
        config.bucketMB = try options.double("--bucket-mb")!
        config.gradCompression = options.string("--grad-compression")!
        config.threads = try options.int("--threads")
        config.checkReplicas = options.flag("--check-replicas")

        try validate(config)
        return config
    }

    static func validate(_ config: TrainingConfig) throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw CommandLineError(message) }
        }
        try require(["mutual", "concat", "image", "metadata"].contains(config.fusion),
                    "--fusion must be mutual, concat, image or metadata, got '\(config.fusion)'")
        try require(["none", "fp16", "bf16"].contains(config.gradCompression),
                    "--grad-compression must be none, fp16 or bf16, got '\(config.gradCompression)'")
        try require(config.imageSize >= 16, "--image-size must be at least 16, got \(config.imageSize)")
        try require(config.trainableBlocks >= 0, "--trainable-blocks must not be negative")
        try require(config.batchSize >= 1, "--batch-size must be at least 1, got \(config.batchSize)")
        try require(config.epochs >= 1, "--epochs must be at least 1, got \(config.epochs)")
        try require(config.steps.map { $0 >= 1 } ?? true, "--steps must be at least 1")
        try require(config.folds >= 2, "--folds must be at least 2, got \(config.folds)")
        try require((0..<config.folds).contains(config.fold),
                    "--fold must be between 0 and \(config.folds - 1) for --folds \(config.folds), got \(config.fold)")
        try require(config.learningRate > 0, "--lr must be positive, got \(config.learningRate)")
        try require(config.weightDecay >= 0, "--weight-decay must not be negative, got \(config.weightDecay)")
        try require(config.warmupSteps >= 0, "--warmup-steps must not be negative, got \(config.warmupSteps)")
        try require(config.gradClip.map { $0 > 0 } ?? true, "--grad-clip must not be negative")
        try require((0..<1).contains(config.labelSmoothing),
                    "--label-smoothing must be at least 0 and below 1, got \(config.labelSmoothing)")
        try require(config.posWeight.map { $0 > 0 } ?? true, "--pos-weight must be positive")
        try require((0..<1).contains(config.softLabel), "--soft-label must be at least 0 and below 1, got \(config.softLabel)")
        try require(config.fusionHeads >= 1, "--fusion-heads must be at least 1")
        try require(config.threads.map { $0 >= 1 } ?? true, "--threads must be at least 1")
        try require(config.negativesPerPositive.map { $0 > 0 } ?? true, "--neg-per-pos must be positive")
        try require(config.metaTokens >= 1, "--meta-tokens must be at least 1")
        try require(config.fusionWidth % config.fusionHeads == 0,
                    "--fusion-width \(config.fusionWidth) must be a multiple of --fusion-heads \(config.fusionHeads)")
        try require(config.keep >= 1, "--keep must be at least 1")
        try require(config.bucketMB > 0, "--bucket-mb must be positive")
        try require(config.checkpointEvery.map { $0 >= 1 } ?? true, "--checkpoint-every must be at least 1")
        try require(config.evalEvery.map { $0 >= 1 } ?? true, "--eval-every must be at least 1")
        try require(config.logEvery >= 1, "--log-every must be at least 1")
        try require(config.std.allSatisfy { $0 > 0 }, "--std values must be positive")
    }
}
