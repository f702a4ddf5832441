import Foundation
import KatechonData
import KatechonMetrics

/// `katechon-dist score`: metrics of any submission file against a ground-truth CSV.
public enum ScoreCommand {
    static let options: [OptionSpec] = [
        .value("--predictions", "FILE.csv", "submission: isic_id and one probability column (multiclass: one per class)"),
        .value("--truth", "FILE.csv", "ground truth: isic_id, the label column, optionally patient_id"),
        .value("--label", "COLUMN", "label column of the truth file", default: "target"),
        .value("--out", "FILE", "also write the metrics JSON object to FILE"),
        .flag("--allow-missing", "score only the isic_ids present in the predictions (out-of-fold files); report how many truth rows were left out"),
    ]

    public static let subcommand = Subcommand(
        name: "score",
        usage: "katechon-dist score --predictions FILE.csv --truth FILE.csv [--label target]",
        summary: "Score a submission file: AUC, ISIC 2024 partial AUC, top-15 sensitivity, or multiclass metrics.",
        options: options,
        run: run)

    static func run(_ options: ParsedOptions) throws -> Int32 {
        let predictionsPath = try options.required("--predictions")
        let truthPath = try options.required("--truth")
        for (option, path) in [("--predictions", predictionsPath), ("--truth", truthPath)] {
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandLineError("\(option) \(path): no such file")
            }
        }
        let report = try score(predictions: CSVTable(contentsOf: URL(fileURLWithPath: predictionsPath)),
                               truth: CSVTable(contentsOf: URL(fileURLWithPath: truthPath)),
                               label: options.string("--label")!, allowMissing: options.flag("--allow-missing"))
        print(report.json)
        if let out = options.string("--out") {
            try Data((report.json + "\n").utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
        }
        return 0
    }

    /// Joins predictions to the truth by `isic_id` and computes the metrics.
    ///
    /// Every truth row needs exactly one prediction, and every prediction a truth row.
    /// Otherwise the error names the first `isic_id` without a partner and the count.
    /// With `allowMissing`, truth rows without a prediction are left out (and counted on
    /// stderr) instead of being an error.
    public static func score(predictions: CSVTable, truth: CSVTable, label: String,
                             allowMissing: Bool = false) throws -> MetricsReport {
        let labelSpec = try LabelSpec.make(column: label, table: truth)
        var (labels, _) = try labelSpec.labels(in: truth, dropInvalid: false)
        let truthIDs = try truth.column("isic_id")
        let predictionIDs = try predictions.column("isic_id")

        var rowOfPrediction: [String: Int] = [:]
        for (row, id) in predictionIDs.enumerated() {
            guard let id else {
                throw InputError("\(predictions.source) line \(predictions.lineNumber(ofRow: row)): empty isic_id")
            }
            guard rowOfPrediction.updateValue(row, forKey: id) == nil else {
                throw InputError("\(predictions.source) line \(predictions.lineNumber(ofRow: row)): isic_id \(id) appears twice")
            }
        }
        var matchedRows: [Int] = []
        var matchedTruthRows: [Int] = []
        var missing: [String] = []
        for (truthRow, id) in truthIDs.enumerated() {
            guard let id, let row = rowOfPrediction[id] else {
                missing.append(id ?? "(empty)")
                continue
            }
            matchedRows.append(row)
            matchedTruthRows.append(truthRow)
        }
        if allowMissing && !missing.isEmpty {
            FileHandle.standardError.write(Data("score: \(missing.count) of \(truthIDs.count) truth rows have no prediction and are left out (--allow-missing)\n".utf8))
            labels = matchedTruthRows.map { labels[$0] }
            missing = []
        }
        guard missing.isEmpty else {
            throw InputError("\(predictions.source) has no prediction for \(missing.count) isic_id(s) of \(truth.source), first \(missing[0]); pass --allow-missing to score only the predicted rows")
        }
        let truthSet = Set(truthIDs.compactMap { $0 })
        if let extra = predictionIDs.compactMap({ $0 }).first(where: { !truthSet.contains($0) }) {
            throw InputError("\(predictions.source) has a prediction for isic_id \(extra), which is not in \(truth.source)")
        }

        let scoreColumns = predictions.columns.filter { $0 != "isic_id" }
        if labelSpec.kind != .multiclass {
            guard scoreColumns.count == 1 else {
                throw InputError("\(predictions.source) must have isic_id and one score column for a binary label, found \(scoreColumns)")
            }
            let scores = try numericScores(predictions, column: scoreColumns[0], rows: matchedRows)
            let patientColumn = truth.hasColumn("patient_id") ? try truth.column("patient_id") : nil
            let patients = patientColumn.map { column in matchedTruthRows.map { column[$0] ?? "row \($0)" } }
            return .binary(try MetricsReport.Binary(labels: labels, scores: scores, patientIDs: patients))
        }

        // Multiclass: one probability column per class, named after the classes.
        var columnOfClass: [[Double]] = []
        for name in labelSpec.classes {
            guard predictions.hasColumn(name) else {
                throw InputError("\(predictions.source) has no column for class '\(name)'; expected isic_id,\(labelSpec.classes.joined(separator: ","))")
            }
            columnOfClass.append(try numericScores(predictions, column: name, rows: matchedRows))
        }
        let predicted = (0..<labels.count).map { sample in
            Int32(columnOfClass.indices.max { columnOfClass[$0][sample] < columnOfClass[$1][sample] }!)
        }
        return .multiclass(try MetricsReport.Multiclass(labels: labels, predictions: predicted,
                                                        classNames: labelSpec.classes))
    }

    static func numericScores(_ table: CSVTable, column: String, rows: [Int]) throws -> [Double] {
        let values = try table.numericColumn(column)
        return try rows.map { row in
            guard let value = values[row] else {
                throw InputError("\(table.source) line \(table.lineNumber(ofRow: row)): column \(column) is empty or not a number")
            }
            return value
        }
    }
}

/// Invalid content in an input file (as opposed to an invalid command line), which
/// ends the command with status 1.
public struct InputError: Error, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
