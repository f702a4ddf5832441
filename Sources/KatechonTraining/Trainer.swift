import Foundation
import KatechonCheckpoint
import KatechonData
import KatechonDistributed
import KatechonMetrics
import KatechonModel
import KatechonTensor

/// Runs `katechon-dist train` on every rank of the MPI job.
public enum Trainer {
    /// Trains with `config` and returns the exit status. Any error on any rank ends the
    /// whole job: the failing rank prints it with its rank number and calls MPI_Abort.
    public static func run(config: TrainingConfig) throws -> Int32 {
        let communicator = try Communicator.initialize()
        StopSignal.install()
        do {
            let session = try TrainingSession(config: config, communicator: communicator)
            let status = try session.train()
            communicator.finalize()
            return status
        } catch {
            if communicator.size > 1 {
                communicator.fatal("katechon-dist train: \(error)")
            }
            communicator.finalize()
            throw error
        }
    }
}

/// One rank's training run: inputs, model replica, optimizer, reducer and checkpoints.
final class TrainingSession {
    let config: TrainingConfig
    let communicator: Communicator
    let runDirectory: URL
    let progress: ProgressReporter
    let inputs: RunInputs
    let model: MultimodalClassifier
    let optimizer: AdamW
    let reducer: GradientReducer
    let schedule: LearningRateSchedule
    let plan: EpochPlan
    let totalSteps: Int
    let checkpointWriter: AsyncCheckpointWriter?
    let metricsLog: JSONLinesWriter?

    var step = 0
    /// Samples trained on before this run's first step (from a resumed checkpoint).
    var samplesSeenAtStart = 0
    /// The step this run started at.
    var stepAtStart = 0
    var history: [EvaluationRecord] = []
    var lastReportedCheckpoint: URL?
    var patientIDs: [String]?

    init(config: TrainingConfig, communicator: Communicator) throws {
        self.config = config
        self.communicator = communicator
        let isRoot = communicator.isRoot
        runDirectory = URL(fileURLWithPath: config.outDirectory)
        progress = ProgressReporter(enabled: isRoot)

        let threads = config.threads
            ?? max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, communicator.localSize))
        BLASThreads.set(threads)

        // The checkpoint to resume from, if any: every rank reads the same file.
        var resumed: (checkpoint: Checkpoint, manifest: CheckpointManifest)?
        if let argument = config.resume {
            if let file = try CheckpointDirectory.resolveResume(runDirectory: runDirectory, argument: argument) {
                let checkpoint = try CheckpointFile.read(file)
                let manifest = try TrainingSession.decodeManifest(checkpoint.manifest, file: file)
                resumed = (checkpoint, manifest)
            } else if isRoot {
                progress.message("no checkpoint in \(runDirectory.path)/checkpoints yet; starting from step 0")
            }
        } else {
            // A second run into the same folder would mix its checkpoints and logs with
            // the first one's.
            let existing = (try? CheckpointDirectory(runDirectory: runDirectory).checkpointFiles()) ?? []
            let metricsFile = runDirectory.appendingPathComponent("metrics.jsonl")
            if !existing.isEmpty || FileManager.default.fileExists(atPath: metricsFile.path) {
                throw CommandLineError("\(runDirectory.path) already contains an earlier run (\(existing.count) checkpoint(s), metrics.jsonl); pass --resume auto to continue it, or choose another --out")
            }
        }
        if let resumed {
            try Self.checkSameInputs(stored: resumed.manifest.config, requested: config, file: resumed.checkpoint.file)
        }

        // Data: the split and the schema are the same on every rank.
        let storedSchema = try resumed.map {
            try JSONDecoder().decode(MetadataSchema.self, from: Data($0.manifest.schemaJSON.utf8))
        }
        let storedLabels = try resumed.map {
            try JSONDecoder().decode(LabelSpec.self, from: Data($0.manifest.labelsJSON.utf8))
        }
        let inputs = try RunInputs.forTraining(config: config, schema: storedSchema, labelSpec: storedLabels)
        self.inputs = inputs
        if inputs.table.hasColumn("patient_id") {
            patientIDs = inputs.validationIndices.map { inputs.dataset.groups[$0] }
        }

        // Model: the command line's shape, which a resumed checkpoint must match.
        let (vit, backboneWeights) = try ModelFactory.backbone(config: config)
        let modelConfig = try ModelFactory.modelConfig(
            config: config, vit: vit, metadataWidth: inputs.schema.width, classCount: inputs.labelSpec.logitCount)
        if let resumed {
            let stored = try JSONDecoder().decode(ModelConfig.self, from: Data(resumed.manifest.modelJSON.utf8))
            guard stored == modelConfig else {
                throw CheckpointMismatch(file: resumed.checkpoint.file,
                                         reason: "it holds a model of another shape or mode (\(Self.describeDifference(stored, modelConfig))); resume with the options it was trained with")
            }
        }
        model = try MultimodalClassifier(config: modelConfig, seed: config.seed)
        optimizer = AdamW(store: model.parameterStore, weightDecay: config.weightDecay)

        // Steps: the sampler pads each epoch to a multiple of the global batch.
        let globalBatch = communicator.size * config.batchSize
        plan = try EpochPlan(trainingIndices: inputs.trainingIndices, labels: inputs.dataset.labels,
                         negativesPerPositive: config.negativesPerPositive, seed: config.seed,
                         worldSize: communicator.size, perRankBatch: config.batchSize)
        totalSteps = config.steps ?? config.epochs * plan.stepsPerEpoch
        schedule = LearningRateSchedule(peak: config.learningRate, warmupSteps: config.warmupSteps,
                                        totalSteps: totalSteps)

        if let resumed {
            let manifest = resumed.manifest
            try TrainingState.restore(resumed.checkpoint, model: model, optimizer: optimizer,
                                      optimizerStep: manifest.optimizerStep)
            samplesSeenAtStart = manifest.samplesSeen
            if manifest.globalBatch == globalBatch {
                step = manifest.step
            } else {
                // Steps count global batches, so another global batch renumbers them; the
                // new run's checkpoint names would collide with the earlier run's.
                let existing = (try? CheckpointDirectory(runDirectory: runDirectory).checkpointFiles()) ?? []
                if !existing.isEmpty {
                    throw CheckpointMismatch(
                        file: resumed.checkpoint.file,
                        reason: "it was trained with a global batch of \(manifest.globalBatch) and this run has \(globalBatch) (\(communicator.size) ranks x \(config.batchSize)), which renumbers the steps; continue into a new run directory with --resume \(resumed.checkpoint.file?.path ?? "FILE") --out NEW_DIR, or keep the global batch with --batch-size \(manifest.globalBatch / communicator.size)")
                }
                // Another global batch: continue in the same epoch after the same number
                // of samples of its order, rounding down so that no sample is skipped.
                let consumed = manifest.stepInEpoch * manifest.globalBatch
                step = manifest.epoch * plan.stepsPerEpoch + consumed / globalBatch
                if isRoot {
                    let repeated = consumed % globalBatch
                    progress.message("global batch changed from \(manifest.globalBatch) to \(globalBatch): continuing in epoch \(manifest.epoch) after sample \(consumed) of its order, at step \(step)\(repeated > 0 ? "; the last \(repeated) samples before it are seen again" : "")")
                }
            }
            history = manifest.metricsHistory
            if isRoot && manifest.totalSteps != totalSteps && step < totalSteps {
                progress.message("note: the learning-rate schedule now spans \(totalSteps) steps instead of the checkpoint's \(manifest.totalSteps), so this run will not match an uninterrupted one")
            }
        } else {
            if let backboneWeights, let encoder = model.imageEncoder {
                let ignored = try ViTWeightLoader.load(backboneWeights, into: encoder, store: model.parameterStore)
                if isRoot && !ignored.isEmpty {
                    progress.message("backbone \(config.backbone): ignored \(ignored.count) tensors outside the encoder (\(ignored.prefix(4).joined(separator: ", "))\(ignored.count > 4 ? ", ..." : ""))")
                }
            }
            // Every replica starts from rank 0's parameters.
            let store = model.parameterStore
            communicator.broadcast(UnsafeMutableBufferPointer(start: store.trainableValues, count: store.trainableCount), root: 0)
            communicator.broadcast(UnsafeMutableBufferPointer(start: store.frozenValues, count: store.frozenCount), root: 0)
        }

        stepAtStart = step

        guard let compression = GradientCompression(rawValue: config.gradCompression) else {
            throw CommandLineError("--grad-compression must be none, fp16 or bf16")
        }
        reducer = GradientReducer(communicator: communicator, gradients: model.parameterStore.trainableGradients,
                                  count: model.parameterStore.trainableCount,
                                  bucketBytes: Int(config.bucketMB * 1_048_576), compression: compression)

        if isRoot {
            do {
                try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
                checkpointWriter = AsyncCheckpointWriter(writer: try CheckpointWriter(runDirectory: runDirectory, keep: config.keep))
                metricsLog = try JSONLinesWriter(url: runDirectory.appendingPathComponent("metrics.jsonl"))
                try writeRunFiles(modelConfig: modelConfig)
            } catch let error as CocoaError {
                throw CommandLineError("cannot write the run directory \(runDirectory.path): \(fileErrorReason(error)); choose a writable --out")
            }
        } else {
            checkpointWriter = nil
            metricsLog = nil
        }
    }

    /// Runs the training loop until the last step or a stop signal. Each step loads a
    /// batch, runs forward, backward with the reduce, clip, optimizer step, logging,
    /// evaluation and checkpoint, in that order.
    func train() throws -> Int32 {
        let store = model.parameterStore
        let isRoot = communicator.isRoot
        let globalBatch = communicator.size * config.batchSize
        if isRoot {
            progress.message(startMessage())
        }

        let loader: BatchStream? = step < totalSteps
            ? BatchStream(dataset: inputs.dataset, plan: plan, rank: communicator.rank, firstStep: step,
                          lastStep: totalSteps, imageSize: config.imageSize, augment: config.augment, seed: config.seed)
            : nil
        defer { loader?.stop() }

        var windowStart = DispatchTime.now().uptimeNanoseconds
        var windowImages = 0
        var windowLoss = 0.0
        var windowSteps = 0
        let runStart = DispatchTime.now().uptimeNanoseconds
        let startStep = step

        while step < totalSteps {
            let epoch = step / plan.stepsPerEpoch

            // Load batch (decoded ahead on worker threads).
            let batch = try loader!.next()

            // Forward.
            store.zeroGradients()
            let logits = batch.pixels.withUnsafeBufferPointer { pixels in
                batch.metadata.withUnsafeBufferPointer { metadata in
                    model.forward(pixels: pixels.baseAddress, metadata: metadata.baseAddress,
                                  batch: batch.count, training: true)
                }
            }
            let (loss, logitGradient) = model.loss(logits: logits, labels: batch.labels)

            // Backward and reduce: buckets start as soon as backward has filled them.
            model.backward(logitGradient: logitGradient) { [reducer] offset in
                reducer.markReady(upTo: offset)
            }
            reducer.finish()

            // Clip and step.
            let gradientNorm = config.gradClip.map { GradientClipping.clipGlobalNorm(store, maxNorm: $0) }
            let learningRate = schedule.learningRate(at: step)
            optimizer.step(learningRate: learningRate)
            step += 1
            if config.checkReplicas {
                try checkReplicas()
            }

            // Log: the loss averaged over ranks.
            var lossSum = [Double(loss)]
            communicator.allReduceSum(&lossSum)
            windowLoss += lossSum[0] / Double(communicator.size)
            windowSteps += 1
            windowImages += globalBatch
            let endOfEpoch = step % plan.stepsPerEpoch == 0 || step == totalSteps
            if step % config.logEvery == 0 || endOfEpoch || step == startStep + 1 {
                let now = DispatchTime.now().uptimeNanoseconds
                let seconds = Double(now - windowStart) / 1e9
                let imagesPerSecond = Double(windowImages) / max(seconds, 1e-9)
                let meanLoss = windowLoss / Double(windowSteps)
                let elapsed = Double(now - runStart) / 1e9
                let secondsLeft = elapsed / Double(step - startStep) * Double(totalSteps - step)
                if isRoot {
                    try metricsLog?.append([
                        ("type", "train"), ("step", step), ("epoch", epoch), ("loss", meanLoss),
                        ("lr", learningRate), ("grad_norm", gradientNorm), ("images_per_s", imagesPerSecond),
                        ("samples_seen", samplesSeen),
                    ])
                }
                progress.step(epoch: epoch, step: step, totalSteps: totalSteps, imagesPerSecond: imagesPerSecond,
                              loss: meanLoss, secondsLeft: secondsLeft, extra: "", forceLine: endOfEpoch)
                windowStart = now
                windowImages = 0
                windowLoss = 0
                windowSteps = 0
            }

            // Evaluate at the end of each epoch or every --eval-every steps.
            var metric: ValidationMetric?
            let evaluateNow = config.evalEvery.map { step % $0 == 0 } ?? endOfEpoch
            if evaluateNow || step == totalSteps {
                metric = try evaluate(epoch: epoch)
            }
            if endOfEpoch {
                try reportSkippedImages()
            }

            // Checkpoint every --checkpoint-every steps and at the end.
            let stopRequested = communicator.allReduceMax(StopSignal.isRequested ? 1 : 0) != 0
            let checkpointNow = config.checkpointEvery.map { step % $0 == 0 } ?? false
            if checkpointNow || step == totalSteps || stopRequested {
                try saveCheckpoint(epoch: step / plan.stepsPerEpoch, metric: metric)
            }
            try reportFinishedCheckpoint()
            if stopRequested && step < totalSteps {
                try checkpointWriter?.waitUntilIdle()
                try reportFinishedCheckpoint()
                communicator.barrier()
                if isRoot {
                    let name = checkpointWriter?.lastCompletedSave?.file.lastPathComponent ?? "?"
                    progress.message("stopped by \(StopSignal.name) after step \(step) of \(totalSteps); wrote checkpoints/\(name); continue with the same command and --resume auto")
                }
                reducer.shutdown()
                return 0
            }
        }

        try checkpointWriter?.waitUntilIdle()
        try reportFinishedCheckpoint()
        if startStep == totalSteps && isRoot {
            progress.message("already trained for \(totalSteps) steps; nothing to do")
        } else if startStep > totalSteps && isRoot {
            progress.message("the checkpoint is at step \(startStep), past the \(totalSteps) steps this run asks for (--steps or --epochs, in global batches of \(globalBatch)); nothing to train")
        }
        communicator.barrier()
        reducer.shutdown()
        if isRoot && config.checkReplicas && step > startStep {
            progress.message("replicas identical after every step (\(step - startStep) checks over \(communicator.size) ranks)")
        }
        if isRoot, let saved = checkpointWriter?.lastCompletedSave {
            progress.message("done: \(step) steps; checkpoint \(saved.file.path)")
        }
        return 0
    }

    /// Samples trained on so far, over all ranks and earlier runs of this training.
    var samplesSeen: Int {
        samplesSeenAtStart + (step - stepAtStart) * communicator.size * config.batchSize
    }

    /// Throws when this rank's parameters differ from the others' (`--check-replicas`).
    ///
    /// Each rank hashes the bits of all its parameters and all-reduces the hash in 16-bit
    /// pieces: the sums equal size × the own pieces on every rank only when every rank
    /// has the same hash, and a rank whose sums differ ends the job.
    func checkReplicas() throws {
        let store = model.parameterStore
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for (pointer, count) in [(store.trainableValues, store.trainableCount), (store.frozenValues, store.frozenCount)] {
            for i in 0..<count {
                hash = (hash ^ UInt64(pointer[i].bitPattern)) &* 0x0000_0100_0000_01B3
            }
        }
        let pieces = (0..<4).map { Double((hash >> (16 * UInt64($0))) & 0xFFFF) }
        var sums = pieces
        communicator.allReduceSum(&sums)
        guard sums == pieces.map({ $0 * Double(communicator.size) }) else {
            throw ReplicaMismatch(step: step, rank: communicator.rank)
        }
    }

    /// Validates on the held-out fold; returns the metric that picks the best checkpoint.
    func evaluate(epoch: Int) throws -> ValidationMetric? {
        guard !inputs.validationIndices.isEmpty else { return nil }
        let evaluator = Evaluator(model: model, dataset: inputs.dataset, communicator: communicator,
                                  batchSize: config.batchSize, imageSize: config.imageSize, seed: config.seed)
        let report: MetricsReport?
        do {
            report = try evaluator.metrics(of: inputs.validationIndices, patientIDs: patientIDs)
        } catch let error as MetricsError {
            // A validation fold with one class has no AUC; training goes on.
            if communicator.isRoot { progress.message("validation at step \(step) skipped: \(error)") }
            return nil
        }
        guard let report else { return nil }

        var fields: [(String, Any?)] = [("type", "eval"), ("step", step), ("epoch", epoch)]
        var values: [String: Double] = [:]
        let metric: ValidationMetric
        let summary: String
        switch report {
        case .binary(let binary):
            values = ["auc": binary.auc, "pauc_tpr80": binary.partialAUCTPR80]
            if let top15 = binary.top15Sensitivity { values["top15_sensitivity"] = top15 }
            fields += [("auc", binary.auc), ("pauc_tpr80", binary.partialAUCTPR80),
                       ("top15_sensitivity", binary.top15Sensitivity), ("count", binary.count),
                       ("positives", binary.positives)]
            metric = ValidationMetric(name: "pauc_tpr80", value: binary.partialAUCTPR80, higherIsBetter: true)
            summary = String(format: "auc %.4f pauc_tpr80 %.4f", binary.auc, binary.partialAUCTPR80)
        case .multiclass(let multiclass):
            values = ["balanced_accuracy": multiclass.balancedAccuracy]
            fields += [("balanced_accuracy", multiclass.balancedAccuracy), ("count", multiclass.count)]
            metric = ValidationMetric(name: "balanced_accuracy", value: multiclass.balancedAccuracy,
                                      higherIsBetter: true)
            summary = String(format: "balanced_accuracy %.4f", multiclass.balancedAccuracy)
        }
        history.append(EvaluationRecord(step: step, epoch: epoch, metrics: values))
        try metricsLog?.append(fields)
        progress.message("validation step \(step) epoch \(epoch): \(summary) (\(inputs.validationIndices.count) samples, fold \(config.fold) of \(config.folds))")
        return metric
    }

    /// Rank 0 snapshots parameters and optimizer state and writes them in the background.
    func saveCheckpoint(epoch: Int, metric: ValidationMetric?) throws {
        guard let checkpointWriter else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let manifest = CheckpointManifest(
            config: config,
            schemaJSON: String(decoding: try encoder.encode(inputs.schema), as: UTF8.self),
            labelsJSON: String(decoding: try encoder.encode(inputs.labelSpec), as: UTF8.self),
            modelJSON: String(decoding: try encoder.encode(model.config), as: UTF8.self),
            step: step, epoch: epoch, stepInEpoch: step - epoch * plan.stepsPerEpoch, samplesSeen: samplesSeen,
            optimizerStep: optimizer.stepCount, worldSize: communicator.size,
            globalBatch: communicator.size * config.batchSize, totalSteps: totalSteps,
            rngStates: ["all ranks": "none: sampling and augmentation are seeded by (seed \(config.seed), epoch, sample index)"],
            metricsHistory: history,
            createdAt: ISO8601DateFormatter().string(from: Date()))
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.prettyPrinted, .sortedKeys]
        try checkpointWriter.save(step: step, manifest: try pretty.encode(manifest),
                                  tensors: TrainingState.tensors(model: model, optimizer: optimizer), metric: metric)
    }

    /// Logs the checkpoint that the background writer finished last, once: its size
    /// against raw float32, its write time, and any retention warning.
    func reportFinishedCheckpoint() throws {
        guard let saved = checkpointWriter?.lastCompletedSave, saved.file != lastReportedCheckpoint else { return }
        lastReportedCheckpoint = saved.file
        let statistics = saved.statistics
        let ratio = Double(statistics.tensorBytes) / Double(max(statistics.fileBytes, 1))
        try metricsLog?.append([
            ("type", "checkpoint"), ("step", saved.step), ("file", saved.file.lastPathComponent),
            ("file_bytes", statistics.fileBytes), ("tensor_bytes", statistics.tensorBytes),
            ("compression_ratio", ratio), ("write_seconds", statistics.seconds),
        ])
        progress.message(String(format: "checkpoint %@: %.1f MB (compression ratio %.2f against raw float32), written in %.2f s",
                                saved.file.lastPathComponent, Double(statistics.fileBytes) / 1e6, ratio, statistics.seconds))
        if let warning = saved.warning {
            progress.message("checkpoint warning: \(warning)")
        }
    }

    /// Gathers the images each rank replaced because they could not be decoded and
    /// reports them from rank 0 (only with --skip-bad-images; otherwise they are errors).
    func reportSkippedImages() throws {
        guard config.skipBadImages else { return }
        guard let all = Evaluator.gatherSkippedImages(inputs.dataset, communicator: communicator) else { return }
        if !all.isEmpty {
            progress.message("skipped \(all.count) undecodable images so far (--skip-bad-images): \(all.sorted().prefix(5).joined(separator: "; "))\(all.count > 5 ? "; ..." : "")")
            try metricsLog?.append([("type", "skipped_images"), ("step", step), ("count", all.count),
                                    ("isic_ids", all.sorted().map { String($0.prefix { $0 != ":" }) } as [Any?])])
        }
    }

    func writeRunFiles(modelConfig: ModelConfig) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct RunDescription: Encodable {
            let training: TrainingConfig
            let model: ModelConfig
            let worldSize: Int
            let globalBatch: Int
            let totalSteps: Int
            let stepsPerEpoch: Int
            let trainingSamples: Int
            let validationSamples: Int
            let metadataWidth: Int
        }
        let description = RunDescription(
            training: config, model: modelConfig, worldSize: communicator.size,
            globalBatch: communicator.size * config.batchSize, totalSteps: totalSteps,
            stepsPerEpoch: plan.stepsPerEpoch, trainingSamples: inputs.trainingIndices.count,
            validationSamples: inputs.validationIndices.count, metadataWidth: inputs.schema.width)
        try encoder.encode(description).write(to: runDirectory.appendingPathComponent("config.json"), options: .atomic)
        try encoder.encode(inputs.split).write(to: runDirectory.appendingPathComponent("split.json"), options: .atomic)
        try encoder.encode(inputs.schema).write(to: runDirectory.appendingPathComponent("schema.json"), options: .atomic)
    }

    func startMessage() -> String {
        let store = model.parameterStore
        var lines = [
            "katechon-dist train: \(communicator.size) rank(s) x batch \(config.batchSize), \(BLASThreads.current) BLAS thread(s) per rank",
            "data: \(inputs.dataset.count) samples, \(inputs.trainingIndices.count) training / \(inputs.validationIndices.count) validation (fold \(config.fold) of \(config.folds), grouped by \(inputs.dataset.groupColumn ?? "image")), label \(inputs.labelSpec.column) (\(inputs.labelSpec.classes.joined(separator: "/")))",
            "metadata: \(inputs.schema.width) inputs from categorical [\(inputs.schema.categorical.map(\.name).joined(separator: ", "))] and numeric [\(inputs.schema.numeric.map(\.name).joined(separator: ", "))]",
            "model: \(config.fusion) fusion, ViT \(model.config.vit.width) wide x \(model.config.vit.depth) blocks at \(config.imageSize) px, \(store.trainableCount) trainable / \(store.frozenCount) frozen parameters",
            "steps: \(step) -> \(totalSteps) (\(plan.stepsPerEpoch) per epoch)",
        ]
        if !inputs.dataset.imagesWithoutRows.isEmpty {
            lines.append("note: \(inputs.dataset.imagesWithoutRows.count) images have no metadata row and are not used (first: \(inputs.dataset.imagesWithoutRows[0]))")
        }
        if !inputs.dataset.droppedRows.isEmpty {
            lines.append("note: \(inputs.dataset.droppedRows.count) rows have no valid label and are not used")
        }
        return lines.joined(separator: "\n")
    }

    static func decodeManifest(_ data: Data, file: URL) throws -> CheckpointManifest {
        do {
            let manifest = try JSONDecoder().decode(CheckpointManifest.self, from: data)
            guard manifest.formatName == CheckpointManifest.currentFormat else {
                throw CheckpointMismatch(file: file, reason: "its manifest is of format '\(manifest.formatName)'")
            }
            return manifest
        } catch let error as CheckpointMismatch {
            throw error
        } catch {
            throw CheckpointMismatch(file: file, reason: "its manifest is not a Katechon training manifest (\(error))")
        }
    }

    /// Rejects a resume whose options would change the split, the sampling or the
    /// inputs the checkpoint was trained on, naming the first option that differs.
    static func checkSameInputs(stored: TrainingConfig, requested: TrainingConfig, file: URL?) throws {
        let fields: [(String, String, String)] = [
            ("--seed", "\(stored.seed)", "\(requested.seed)"),
            ("--folds", "\(stored.folds)", "\(requested.folds)"),
            ("--fold", "\(stored.fold)", "\(requested.fold)"),
            ("--label", stored.label, requested.label),
            ("--neg-per-pos", "\(stored.negativesPerPositive.map { "\($0)" } ?? "none")",
             "\(requested.negativesPerPositive.map { "\($0)" } ?? "none")"),
            ("--image-size", "\(stored.imageSize)", "\(requested.imageSize)"),
            ("--mean", "\(stored.mean)", "\(requested.mean)"),
            ("--std", "\(stored.std)", "\(requested.std)"),
            ("--augment", "\(stored.augment)", "\(requested.augment)"),
            ("--categorical", stored.categorical.map { $0.joined(separator: ",") } ?? "(default)",
             requested.categorical.map { $0.joined(separator: ",") } ?? "(default)"),
            ("--numeric", stored.numeric.map { $0.joined(separator: ",") } ?? "(default)",
             requested.numeric.map { $0.joined(separator: ",") } ?? "(default)"),
            ("--soft-label", "\(stored.softLabel)", "\(requested.softLabel)"),
            ("--backbone", stored.backbone, requested.backbone),
            ("--trainable-blocks", "\(stored.trainableBlocks)", "\(requested.trainableBlocks)"),
            ("--fusion", stored.fusion, requested.fusion),
        ]
        for (option, old, new) in fields where old != new {
            throw CheckpointMismatch(file: file, reason: "it was trained with \(option) \(old), this run asks for \(new); resume with the same value")
        }
    }

    static func describeDifference(_ stored: ModelConfig, _ requested: ModelConfig) -> String {
        var differences: [String] = []
        if stored.vit != requested.vit { differences.append("ViT \(stored.vit) vs requested \(requested.vit)") }
        if stored.fusion != requested.fusion { differences.append("fusion \(stored.fusion.rawValue) vs \(requested.fusion.rawValue)") }
        if stored.metadataWidth != requested.metadataWidth { differences.append("metadata width \(stored.metadataWidth) vs \(requested.metadataWidth)") }
        if stored.classCount != requested.classCount { differences.append("classes \(stored.classCount) vs \(requested.classCount)") }
        if stored.fusionWidth != requested.fusionWidth || stored.fusionHeads != requested.fusionHeads || stored.metaTokens != requested.metaTokens {
            differences.append("fusion width/heads/tokens \(stored.fusionWidth)/\(stored.fusionHeads)/\(stored.metaTokens) vs \(requested.fusionWidth)/\(requested.fusionHeads)/\(requested.metaTokens)")
        }
        return differences.isEmpty ? "loss settings differ" : differences.joined(separator: "; ")
    }
}

/// Parameters that differ between ranks, found by `--check-replicas`.
public struct ReplicaMismatch: Error, CustomStringConvertible {
    public let step: Int
    public let rank: Int

    public var description: String {
        "rank \(rank): parameters differ from the other ranks after step \(step); the replicas diverged"
    }
}

/// A checkpoint that cannot continue this run.
public struct CheckpointMismatch: Error, CustomStringConvertible {
    public let file: URL?
    public let reason: String

    public var description: String {
        "checkpoint \(file?.path ?? "(unnamed)") cannot be used here: \(reason)"
    }
}

/// Returns the reason of a Foundation file error in plain words (the POSIX message when
/// there is one), without the NSError dump.
func fileErrorReason(_ error: CocoaError) -> String {
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    switch error.code {
    case .fileWriteNoPermission: return "permission denied"
    case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
    case .fileWriteOutOfSpace: return "no space left on the device"
    default: return error.localizedDescription
    }
}
