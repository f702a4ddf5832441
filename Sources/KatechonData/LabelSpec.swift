import Foundation

/// The column that contains the label, and how its cells map to class indices. Stored in
/// checkpoints so evaluation maps labels the way training did.
public struct LabelSpec: Codable, Sendable, Equatable {
    /// The reading of label cells.
    public enum Kind: String, Codable, Sendable {
        /// `0` or `1` (also `0.0` and `1.0`), as the ISIC 2024 `target` column.
        case binary
        /// `benign` → 0 and `malignant` → 1, as the ISIC Archive `benign_malignant` field.
        case benignMalignant
        /// Any text; class `i` is the `i`-th entry of the sorted vocabulary.
        case multiclass
    }

    public let column: String
    public let kind: Kind
    /// Class names by index: `["0", "1"]`, `["benign", "malignant"]` or the sorted
    /// vocabulary of a multiclass column.
    public let classes: [String]

    /// The number of model outputs: 1 for a binary label, else the class count.
    public var logitCount: Int { kind == .multiclass ? classes.count : 1 }

    public init(column: String, kind: Kind, classes: [String]) {
        self.column = column
        self.kind = kind
        self.classes = classes
    }

    /// Chooses the reading of `column`: `target` is binary, `benign_malignant` is
    /// benign/malignant, and any other column is multiclass over the sorted distinct
    /// non-empty values of `table`. Throws `DataError.missingColumn` listing the
    /// available columns when the table has no such column.
    public static func make(column: String, table: CSVTable) throws -> LabelSpec {
        let values = try table.column(column)
        switch column {
        case "target":
            return LabelSpec(column: column, kind: .binary, classes: ["0", "1"])
        case "benign_malignant":
            return LabelSpec(column: column, kind: .benignMalignant, classes: ["benign", "malignant"])
        default:
            let vocabulary = Set(values.compactMap { $0 }).sorted()
            guard vocabulary.count >= 2 else {
                throw DataError.invalidSetting(name: "label column", value: column,
                                               reason: "it has \(vocabulary.count) distinct values in \(table.source); a label needs at least two classes")
            }
            return LabelSpec(column: column, kind: .multiclass, classes: vocabulary)
        }
    }

    /// Returns the class index of a cell, or `nil` when it is missing or not a class.
    public func classIndex(of text: String?) -> Int32? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        switch kind {
        case .binary:
            guard let value = Double(text) else { return nil }
            if value == 0 { return 0 }
            if value == 1 { return 1 }
            return nil
        case .benignMalignant:
            switch text.lowercased() {
            case "benign": return 0
            case "malignant": return 1
            default: return nil
            }
        case .multiclass:
            return classes.firstIndex(of: text).map { Int32($0) }
        }
    }

    /// A row whose label is missing or invalid.
    public struct InvalidRow: Sendable, Equatable, CustomStringConvertible {
        public let row: Int
        public let line: Int
        public let isicID: String
        public let value: String?
        public var description: String { "line \(line) isic_id \(isicID): \(value.map { "'\($0)'" } ?? "missing")" }
    }

    /// The accepted label values, for messages.
    public var expectedValues: String {
        switch kind {
        case .binary: return "0 or 1"
        case .benignMalignant: return "benign or malignant"
        case .multiclass: return "one of " + classes.joined(separator: ", ")
        }
    }

    /// Reads the label of every row. With `dropInvalid` false, the first missing or
    /// invalid label throws `DataError.invalidLabel` naming its line and `isic_id`.
    /// With `dropInvalid` true, such rows come back in `invalid` and get label -1.
    public func labels(in table: CSVTable, dropInvalid: Bool) throws -> (labels: [Int32], invalid: [InvalidRow]) {
        let column = try table.columnIndex(self.column)
        let idColumn = table.hasColumn("isic_id") ? try table.columnIndex("isic_id") : nil
        var labels = [Int32](repeating: -1, count: table.rowCount)
        var invalid: [InvalidRow] = []
        for row in 0..<table.rowCount {
            let text = table.cell(row: row, column: column)
            if let index = classIndex(of: text) {
                labels[row] = index
                continue
            }
            let id = idColumn.flatMap { table.cell(row: row, column: $0) } ?? "(row \(row + 1))"
            if !dropInvalid {
                throw DataError.invalidLabel(path: table.source, line: table.lineNumber(ofRow: row), isicID: id,
                                             column: self.column, value: text, expected: expectedValues)
            }
            invalid.append(InvalidRow(row: row, line: table.lineNumber(ofRow: row), isicID: id, value: text))
        }
        return (labels, invalid)
    }
}
