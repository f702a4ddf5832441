import Foundation

/// `katechon-dist predict`: the Kaggle submission CSV of a checkpoint.
public enum PredictCommand {
    static let options: [OptionSpec] = [
        .value("--checkpoint", "FILE", "a .kcpt checkpoint written by train"),
        .value("--metadata", "FILE.csv", "metadata CSV (no label needed); omit for JSON sidecars"),
        .value("--images", "PATH", "HDF5 file or folder of images"),
        .value("--out", "FILE.csv", "submission to write: isic_id,target (multiclass: one column per class)"),
        .value("--batch-size", "N", "samples per forward pass per rank (results do not depend on it)", default: "64"),
        .flag("--skip-bad-images", "score undecodable images as blank ones and report them"),
    ]

    public static let subcommand = Subcommand(
        name: "predict",
        usage: "katechon-dist predict --checkpoint FILE --metadata FILE.csv --images PATH --out submission.csv",
        summary: "Write the probability of the positive class for every metadata row (Kaggle format).",
        options: options,
        run: run)

    static func run(_ options: ParsedOptions) throws -> Int32 {
        let batchSize = try positiveInt(options, "--batch-size")
        let out = URL(fileURLWithPath: try options.required("--out"))
        try requireWritableFolder(of: out.path, option: "--out")
        return try withCommunicator { communicator in
            let (trained, dataset, scored) = try scoreRows(options, communicator: communicator, labelled: false,
                                                           batchSize: batchSize, command: "predict")
            guard let probabilities = scored else { return 0 }

            let classCount = trained.model.config.classCount
            var lines: [String] = []
            if classCount == 1 {
                lines.append("isic_id,target")
                for (index, id) in dataset.ids.enumerated() {
                    lines.append("\(csvField(id)),\(probabilities[index])")
                }
            } else {
                lines.append((["isic_id"] + trained.labelSpec.classes).map(csvField).joined(separator: ","))
                for (index, id) in dataset.ids.enumerated() {
                    let row = probabilities[(index * classCount)..<((index + 1) * classCount)]
                    lines.append(([csvField(id)] + row.map { "\($0)" }).joined(separator: ","))
                }
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: out, options: .atomic)
            FileHandle.standardError.write(Data("predict: wrote \(dataset.count) rows to \(out.path)\n".utf8))
            return 0
        }
    }
}

/// Returns a CSV field, quoted when it contains a comma, quote or line break (RFC 4180).
func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
