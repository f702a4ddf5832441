import Foundation
import KatechonDistributed
import KatechonModel
import KatechonTensor

/// `katechon-dist bench`: training throughput on random in-memory tensors.
public enum BenchCommand {
    public static let subcommand = Subcommand(
        name: "bench",
        usage: "katechon-dist bench [--backbone tiny|small|base] [--image-size N] [--batch-size N] [--steps N]",
        summary: "Train on random tensors and print images/s, phase times and model FLOP utilisation.",
        options: [
            .value("--backbone", "tiny|small|base", "ViT shape", default: "tiny"),
            .value("--image-size", "PIXELS", "input size", default: "224"),
            .value("--batch-size", "N", "samples per rank per step", default: "16"),
            .value("--steps", "N", "timed steps", default: "10"),
            .value("--warmup", "N", "untimed steps first", default: "2"),
            .value("--trainable-blocks", "K", "trainable final blocks", default: "5"),
            .value("--fusion", "MODE", "mutual, concat, image or metadata", default: "mutual"),
            .value("--metadata-width", "M", "length of the random metadata vector", default: "64"),
            .value("--bucket-mb", "MB", "gradient bucket size in MiB", default: "25"),
            .value("--grad-compression", "MODE", "none, fp16 or bf16", default: "none"),
            .value("--threads", "N", "BLAS threads per rank (default: cores / ranks on this node)"),
        ],
        run: run)

    struct PhaseTimes {
        var data = 0.0, forward = 0.0, backward = 0.0, communication = 0.0, optimizer = 0.0
    }

    static func run(_ options: ParsedOptions) throws -> Int32 {
        var config = TrainingConfig(imagesPath: "", outDirectory: "")
        config.backbone = options.string("--backbone")!
        guard ["tiny", "small", "base"].contains(config.backbone) else {
            throw CommandLineError("--backbone must be tiny, small or base for bench, got '\(config.backbone)'")
        }
        config.imageSize = try positiveInt(options, "--image-size")
        config.batchSize = try positiveInt(options, "--batch-size")
        config.trainableBlocks = try options.int("--trainable-blocks")!
        config.fusion = options.string("--fusion")!
        config.threads = try options.int("--threads")
        let steps = try positiveInt(options, "--steps")
        let warmup = try options.int("--warmup")!
        let metadataWidth = try positiveInt(options, "--metadata-width")
        guard let compression = GradientCompression(rawValue: options.string("--grad-compression")!) else {
            throw CommandLineError("--grad-compression must be none, fp16 or bf16")
        }
        let bucketBytes = Int(try options.double("--bucket-mb")! * 1_048_576)

        return try withCommunicator { communicator in
            let threads = config.threads
                ?? max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, communicator.localSize))
            BLASThreads.set(threads)

            let (vit, _) = try ModelFactory.backbone(config: config)
            let modelConfig = try ModelFactory.modelConfig(config: config, vit: vit, metadataWidth: metadataWidth,
                                                           classCount: 1)
            let model = try MultimodalClassifier(config: modelConfig, seed: 0)
            let store = model.parameterStore
            let optimizer = AdamW(store: store, weightDecay: 0.05)
            let reducer = GradientReducer(communicator: communicator, gradients: store.trainableGradients,
                                              count: store.trainableCount, bucketBytes: bucketBytes,
                                              compression: compression)

            // Random inputs, fixed for the run: bench measures compute and communication.
            let b = config.batchSize
            var generator = RandomGenerator(seed: UInt64(communicator.rank))
            let pool = (0..<(b * 3 * config.imageSize * config.imageSize)).map { _ in generator.nextNormal() }
            let metadataPool = (0..<(b * metadataWidth)).map { _ in generator.nextUniform() }
            let labels = (0..<b).map { Int32($0 % 2) }
            var pixels = [Float](repeating: 0, count: pool.count)
            var metadata = [Float](repeating: 0, count: metadataPool.count)

            // Peak: every rank measures at once, as they will compute at once.
            communicator.barrier()
            // The best of three short measurements, so one busy second of other processes
            // does not set the reference.
            var peak = [(0..<3).map { _ in SgemmPeak.measure(seconds: 0.4) }.max()!]
            communicator.allReduceSum(&peak)

            var times = PhaseTimes()
            var flops = 0.0
            func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
            communicator.barrier()
            var start = now()
            for index in 0..<(warmup + steps) {
                if index == warmup {
                    times = PhaseTimes()
                    reducer.resetTimings()
                    GemmCounter.flops = 0
                    communicator.barrier()
                    start = now()
                }
                GemmCounter.isEnabled = index >= warmup

                var t = now()
                pixels.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: pool, count: pool.count) }
                metadata.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: metadataPool, count: metadataPool.count) }
                times.data += now() - t

                t = now()
                store.zeroGradients()
                let logits = pixels.withUnsafeBufferPointer { p in
                    metadata.withUnsafeBufferPointer { m in
                        model.forward(pixels: p.baseAddress, metadata: m.baseAddress, batch: b, training: true)
                    }
                }
                let (_, gradient) = model.loss(logits: logits, labels: labels)
                times.forward += now() - t

                t = now()
                model.backward(logitGradient: gradient) { reducer.markReady(upTo: $0) }
                times.backward += now() - t

                t = now()
                reducer.finish()
                times.communication += now() - t

                t = now()
                _ = GradientClipping.clipGlobalNorm(store, maxNorm: 1)
                optimizer.step(learningRate: 1e-4)
                times.optimizer += now() - t
                GemmCounter.isEnabled = false
            }
            communicator.barrier()
            let elapsed = now() - start
            flops = GemmCounter.flops
            reducer.shutdown()

            var totals = [flops, times.data, times.forward, times.backward, times.communication, times.optimizer]
            communicator.allReduceSum(&totals)
            guard communicator.isRoot else { return 0 }

            let ranks = Double(communicator.size)
            let images = Double(steps * b) * ranks
            let imagesPerSecond = images / elapsed
            let achievedGFLOPs = totals[0] / elapsed / 1e9
            let mfu = achievedGFLOPs / peak[0]
            let perStep: (Double) -> Double = { $0 / ranks / Double(steps) * 1000 }
            let phases: [(String, Any?)] = [
                ("data", perStep(totals[1])), ("forward", perStep(totals[2])), ("backward", perStep(totals[3])),
                ("exposed_communication", perStep(totals[4])), ("optimizer", perStep(totals[5])),
            ]
            print(String(format: "bench: %@ ViT at %d px, fusion %@, %d rank(s) x batch %d, %d BLAS thread(s) per rank",
                         config.backbone, config.imageSize, config.fusion, communicator.size, b, threads))
            print(String(format: "  %.2f images/s over %d steps (%.1f ms per step)", imagesPerSecond, steps,
                         elapsed / Double(steps) * 1000))
            print(String(format: "  per step (mean over ranks): data %.1f ms, forward %.1f ms, backward %.1f ms, exposed communication %.1f ms, optimizer %.1f ms",
                         perStep(totals[1]), perStep(totals[2]), perStep(totals[3]), perStep(totals[4]), perStep(totals[5])))
            print(String(format: "  model FLOPs %.1f GFLOP/s (GEMM), measured sgemm peak %.1f GFLOP/s, MFU %.1f%%",
                         achievedGFLOPs, peak[0], mfu * 100))
            print(jsonObject([
                ("images_per_s", imagesPerSecond), ("mfu", mfu), ("sgemm_peak_gflops", peak[0]),
                ("model_gflops_per_s", achievedGFLOPs), ("phases_ms", phases), ("ranks", communicator.size),
                ("batch_size", b), ("backbone", config.backbone), ("image_size", config.imageSize),
                ("threads_per_rank", threads), ("steps", steps), ("trainable_parameters", store.trainableCount),
                ("frozen_parameters", store.frozenCount), ("grad_compression", compression.rawValue),
            ]))
            return 0
        }
    }
}
