import Foundation
import KatechonData
import KatechonDistributed
import KatechonMetrics

/// `katechon-dist evaluate`: metrics of a checkpoint on a labelled table.
public enum EvaluateCommand {
    static let options: [OptionSpec] = [
        .value("--checkpoint", "FILE", "a .kcpt checkpoint written by train"),
        .value("--metadata", "FILE.csv", "metadata CSV with the label column; omit for JSON sidecars"),
        .value("--images", "PATH", "HDF5 file or folder of images"),
        .value("--out", "FILE", "also write the metrics JSON object to FILE"),
        .value("--roc", "FILE.png", "draw the ROC curve with the 80% TPR line (binary labels)"),
        .value("--batch-size", "N", "samples per forward pass per rank (results do not depend on it)", default: "64"),
        .flag("--skip-bad-images", "score undecodable images as blank ones and report them"),
    ]

    public static let subcommand = Subcommand(
        name: "evaluate",
        usage: "katechon-dist evaluate --checkpoint FILE --metadata FILE.csv --images PATH [--out metrics.json] [--roc roc.png]",
        summary: "Print AUC, ISIC 2024 partial AUC and top-15 sensitivity (or multiclass metrics) of a checkpoint.",
        options: options,
        run: run)

    static func run(_ options: ParsedOptions) throws -> Int32 {
        let batchSize = try positiveInt(options, "--batch-size")
        for option in ["--out", "--roc"] {
            if let path = options.string(option) { try requireWritableFolder(of: path, option: option) }
        }
        return try withCommunicator { communicator in
            let (trained, dataset, scored) = try scoreRows(
                options, communicator: communicator, labelled: true, batchSize: batchSize, command: "evaluate"
            ) { trained in
                if options.has("--roc") && trained.model.config.classCount != 1 {
                    throw CommandLineError("--roc needs a binary label; this checkpoint has \(trained.model.config.classCount) classes")
                }
            }
            guard let probabilities = scored else { return 0 }

            let table = dataset.table
            let patientIDs = table.hasColumn("patient_id") ? dataset.groups : nil
            let report = try Evaluator.report(labels: dataset.labels, probabilities: probabilities,
                                              classNames: trained.labelSpec.classes,
                                              classCount: trained.model.config.classCount, patientIDs: patientIDs)
            print(report.json)
            if let out = options.string("--out") {
                try Data((report.json + "\n").utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            }
            if let roc = options.string("--roc") {
                try writeROCCurvePNG(labels: dataset.labels, scores: probabilities.map(Double.init),
                                     to: URL(fileURLWithPath: roc))
            }
            return 0
        }
    }
}

/// Loads `--checkpoint`, reads `--metadata` and `--images`, and scores every row,
/// sharded over the ranks. Returns the probabilities on rank 0 and nil elsewhere.
func scoreRows(_ options: ParsedOptions, communicator: Communicator, labelled: Bool, batchSize: Int,
               command: String, check: (TrainedModel) throws -> Void = { _ in }
) throws -> (TrainedModel, LesionDataset, [Float]?) {
    let trained = try TrainedModel.load(path: try options.required("--checkpoint"))
    try check(trained)
    let (table, images) = try RunInputs.openTable(metadataPath: options.string("--metadata"),
                                                  imagesPath: try options.required("--images"))
    let dataset = try trained.dataset(table: table, images: images, labelled: labelled,
                                      skipBadImages: options.flag("--skip-bad-images"))
    let evaluator = Evaluator(model: trained.model, dataset: dataset, communicator: communicator,
                              batchSize: batchSize, imageSize: trained.manifest.config.imageSize,
                              seed: trained.manifest.config.seed)
    let probabilities = try evaluator.probabilities(of: Array(0..<dataset.count))
    Evaluator.reportSkippedImages(dataset, communicator: communicator, command: command)
    return (trained, dataset, probabilities)
}

/// Runs `body` with an initialised MPI communicator; an error on any rank of a
/// multi-rank job aborts the job with that rank's message.
func withCommunicator(_ body: (Communicator) throws -> Int32) throws -> Int32 {
    let communicator = try Communicator.initialize()
    do {
        let status = try body(communicator)
        communicator.barrier()
        communicator.finalize()
        return status
    } catch {
        if communicator.size > 1 {
            communicator.fatal("\(error)")
        }
        communicator.finalize()
        throw error
    }
}

/// Throws unless the folder that will hold `path` exists and is writable, so a typo in
/// an output path fails before the work, not after it.
func requireWritableFolder(of path: String, option: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
        throw CommandLineError("\(option) \(path): the folder \(folder) does not exist")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else {
        throw CommandLineError("\(option) \(path): the folder \(folder) is not writable")
    }
}

func positiveInt(_ options: ParsedOptions, _ name: String) throws -> Int {
    guard let value = try options.int(name), value >= 1 else {
        throw CommandLineError("\(name) must be a positive integer")
    }
    return value
}
