import Foundation
import KatechonCheckpoint

/// `katechon-dist export`: the model of a checkpoint as safetensors for PyTorch users.
public enum ExportCommand {
    public static let subcommand = Subcommand(
        name: "export",
        usage: "katechon-dist export --checkpoint FILE --out model.safetensors",
        summary: "Write a checkpoint's parameters (no optimizer state) as F32 safetensors.",
        options: [
            .value("--checkpoint", "FILE", "a .kcpt checkpoint written by train"),
            .value("--out", "FILE.safetensors", "file to write"),
        ],
        run: { options in
            let trained = try TrainedModel.load(path: try options.required("--checkpoint"))
            let out = URL(fileURLWithPath: try options.required("--out"))
            let tensors = trained.model.namedParameters().map { NamedTensor(name: $0.name, shape: $0.shape, values: $0.values) }
            // The safetensors header carries what a PyTorch user needs to rebuild the inputs.
            let metadata = [
                "format": "pt",
                "katechon_model": trained.manifest.modelJSON,
                "katechon_metadata_schema": trained.manifest.schemaJSON,
                "katechon_labels": trained.manifest.labelsJSON,
                "katechon_step": String(trained.manifest.step),
                "katechon_image_mean": trained.manifest.config.mean.map { "\($0)" }.joined(separator: ","),
                "katechon_image_std": trained.manifest.config.std.map { "\($0)" }.joined(separator: ","),
            ]
            try Safetensors.write(tensors, metadata: metadata, to: out)
            let count = tensors.reduce(0) { $0 + $1.values.count }
            print("exported \(tensors.count) tensors (\(count) parameters) from \(trained.file.lastPathComponent) to \(out.path)")
            return 0
        })
}

/// `katechon-dist inspect`: the manifest and tensor summary of a checkpoint or safetensors file.
public enum InspectCommand {
    public static let subcommand = Subcommand(
        name: "inspect",
        usage: "katechon-dist inspect FILE",
        summary: "Print a .kcpt checkpoint's manifest and tensor summary, or a safetensors file's tensors.",
        options: [],
        run: { options in
            guard options.positional.count == 1 else {
                throw CommandLineError("inspect takes exactly one file, got \(options.positional.count)")
            }
            let path = options.positional[0]
            let url = URL(fileURLWithPath: path)
            if path.hasSuffix(".safetensors") {
                let contents = try Safetensors.read(url)
                var lines = ["\(path): safetensors, \(contents.tensors.count) tensors"]
                for key in contents.metadata.keys.sorted() {
                    lines.append("  metadata \(key): \(contents.metadata[key]!.prefix(200))")
                }
                var total = 0
                for tensor in contents.tensors {
                    total += tensor.values.count
                    lines.append("  \(tensor.name) \(tensor.shape)")
                }
                lines.append("total \(total) values")
                print(lines.joined(separator: "\n"))
            } else {
                print(try CheckpointFile.describe(url))
            }
            return 0
        })
}
