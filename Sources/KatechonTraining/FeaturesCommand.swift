import Foundation
import KatechonCheckpoint
import KatechonData
import KatechonModel

/// `katechon-dist features`: ViT image embeddings for tabular stacking.
public enum FeaturesCommand {
    public static let subcommand = Subcommand(
        name: "features",
        usage: "katechon-dist features --backbone FILE.safetensors --images PATH [--metadata FILE.csv] --out FILE.safetensors",
        summary: "Write image embeddings (timm pre-logits) as an F32 tensor `features` [N, width] in safetensors.",
        options: [
            .value("--backbone", "FILE.safetensors", "ViT weights with timm or Hugging Face keys"),
            .value("--images", "PATH", "HDF5 file or folder of images"),
            .value("--metadata", "FILE.csv", "take the rows (and their order) from this CSV; default: every image"),
            .value("--out", "FILE.safetensors", "file to write"),
            .value("--pool", "cls|mean", "class token after the final norm, or mean of the patch tokens", default: "cls"),
            .value("--image-size", "PIXELS", "model input size (default: the size the weights were trained at)"),
            .value("--vit-heads", "H", "attention heads (default width/64)"),
            .value("--mean", "R,G,B", "per-channel normalisation mean", default: "0.5,0.5,0.5"),
            .value("--std", "R,G,B", "per-channel normalisation std", default: "0.5,0.5,0.5"),
            .value("--batch-size", "N", "images per forward pass per rank (results do not depend on it)", default: "32"),
        ],
        run: run)

    static func run(_ options: ParsedOptions) throws -> Int32 {
        let pool = options.string("--pool")!
        guard pool == "cls" || pool == "mean" else {
            throw CommandLineError("--pool must be cls or mean, got '\(pool)'")
        }
        let batchSize = try positiveInt(options, "--batch-size")
        let out = URL(fileURLWithPath: try options.required("--out"))
        try requireWritableFolder(of: out.path, option: "--out")
        let mean = try options.triple("--mean")!
        let std = try options.triple("--std")!

        return try withCommunicator { communicator in
            // The encoder alone, with every block frozen: forward only.
            let weights = try ModelFactory.readBackboneWeights(URL(fileURLWithPath: try options.required("--backbone")))
            let config = try ViTWeightLoader.inferConfig(from: weights, imageSize: try options.int("--image-size"),
                                                         heads: try options.int("--vit-heads"), trainableBlocks: 0)
            let store = ParameterStore()
            let encoder = VisionTransformer(store: store, config: config, prefix: "")
            store.allocate(seed: 0)
            _ = try ViTWeightLoader.load(weights, into: encoder, store: store)

            // Rows: the CSV's order when given, else every image of the source.
            let images = try openImageSource(path: try options.required("--images"))
            let ids: [String]
            if let metadata = options.string("--metadata") {
                let table = try CSVTable(contentsOf: URL(fileURLWithPath: metadata))
                ids = try table.column("isic_id").enumerated().map { row, id in
                    guard let id else {
                        throw CommandLineError("\(metadata) line \(table.lineNumber(ofRow: row)): empty isic_id")
                    }
                    guard images.contains(id) else {
                        throw CommandLineError("isic_id \(id) from \(metadata) has no image in \(images.location)")
                    }
                    return id
                }
            } else {
                ids = images.ids
            }

            let preprocessor = ImagePreprocessor(imageSize: config.imageSize, mean: mean, std: std)
            let shard = EpochSampler.evaluationShard(count: ids.count, rank: communicator.rank, size: communicator.size)
            let mine = Array(ids[shard])
            let (n, d) = (config.tokenCount, config.width)
            let plane = 3 * config.imageSize * config.imageSize
            var local: [Float] = []
            local.reserveCapacity(mine.count * d)
            var start = 0
            while start < mine.count {
                let chunk = Array(mine[start..<min(start + batchSize, mine.count)])
                var pixels = [Float](repeating: 0, count: chunk.count * plane)
                try pixels.withUnsafeMutableBufferPointer { buffer in
                    for (i, id) in chunk.enumerated() {
                        preprocessor.process(try images.image(for: id), augment: false, seed: 0, epoch: 0, index: 0,
                                             into: buffer.baseAddress! + i * plane)
                    }
                }
                let tokens = pixels.withUnsafeBufferPointer {
                    encoder.forwardFeatures(pixels: $0.baseAddress!, batch: chunk.count, training: false)
                }
                for b in 0..<chunk.count {
                    let sample = tokens.pointer + b * n * d
                    if pool == "cls" {
                        local += UnsafeBufferPointer(start: sample, count: d)
                    } else {
                        var sum = [Float](repeating: 0, count: d)
                        for t in 1..<n {
                            for j in 0..<d { sum[j] += sample[t * d + j] }
                        }
                        local += sum.map { $0 / Float(n - 1) }
                    }
                }
                start += chunk.count
            }

            guard let gathered = communicator.gatherVariable(local, root: 0) else { return 0 }
            let features = gathered.flatMap { $0 }
            let idsJSON = "[" + ids.map(jsonString).joined(separator: ",") + "]"
            try Safetensors.write([NamedTensor(name: "features", shape: [ids.count, d], values: features)],
                                  metadata: ["isic_ids": idsJSON, "pool": pool,
                                             "image_size": String(config.imageSize)],
                                  to: out)
            FileHandle.standardError.write(Data("features: wrote \(ids.count) x \(d) (\(pool) pooling) to \(out.path)\n".utf8))
            return 0
        }
    }
}
