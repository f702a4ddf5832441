import Foundation

/// How metadata columns become the input vector of the metadata encoder, fitted on the
/// training rows only and stored as JSON in checkpoints.
///
/// Layout of the vector, in order:
/// - each categorical column: one slot per training vocabulary entry (sorted), then a
///   "missing" slot, then an "unseen value" slot. The active slot is 1 and every other
///   slot is `softLabel` (0 gives a plain one-hot vector);
/// - each numeric column: the value standardised with the training mean and population
///   standard deviation, where a deviation of 0 becomes 1. Then a missing indicator that
///   is 1 when the cell is empty, NaN or not a number, in which case the value slot is 0.
public struct MetadataSchema: Codable, Sendable, Equatable {
    /// One categorical column and its training vocabulary.
    public struct CategoricalColumn: Codable, Sendable, Equatable {
        public let name: String
        public let vocabulary: [String]
        /// Vocabulary entries plus the missing and unseen slots.
        public var slotCount: Int { vocabulary.count + 2 }
    }

    /// One numeric column and its training scaler.
    public struct NumericColumn: Codable, Sendable, Equatable {
        public let name: String
        public let mean: Double
        public let standardDeviation: Double
    }

    public let categorical: [CategoricalColumn]
    public let numeric: [NumericColumn]
    /// The value of the inactive slots of every one-hot part.
    public let softLabel: Float

    /// The length of the encoded vector.
    public var width: Int {
        categorical.reduce(0) { $0 + $1.slotCount } + 2 * numeric.count
    }

    public init(categorical: [CategoricalColumn], numeric: [NumericColumn], softLabel: Float) {
        self.categorical = categorical
        self.numeric = numeric
        self.softLabel = softLabel
    }

    /// Fits vocabularies and scalers on `trainingRows` of `table`. Throws
    /// `DataError.missingColumn` for an absent column and `DataError.infiniteValue` for
    /// an infinite numeric cell anywhere in the table.
    public static func fit(table: CSVTable, trainingRows: [Int], categorical: [String], numeric: [String],
                           softLabel: Float = 0.01) throws -> MetadataSchema {
        var categoricalColumns: [CategoricalColumn] = []
        for name in categorical {
            let column = try table.columnIndex(name)
            var seen = Set<String>()
            for row in trainingRows {
                if let value = table.cell(row: row, column: column) { seen.insert(value) }
            }
            categoricalColumns.append(CategoricalColumn(name: name, vocabulary: seen.sorted()))
        }

        var numericColumns: [NumericColumn] = []
        for (name, values) in zip(numeric, try table.floatColumns(numeric)) {
            var count = 0.0, sum = 0.0
            for row in trainingRows where !values[row].isNaN {
                count += 1
                sum += Double(values[row])
            }
            let mean = count > 0 ? sum / count : 0
            var squares = 0.0
            for row in trainingRows where !values[row].isNaN {
                let difference = Double(values[row]) - mean
                squares += difference * difference
            }
            let deviation = count > 0 ? (squares / count).squareRoot() : 0
            numericColumns.append(NumericColumn(name: name, mean: mean, standardDeviation: deviation > 0 ? deviation : 1))
        }
        return MetadataSchema(categorical: categoricalColumns, numeric: numericColumns, softLabel: softLabel)
    }

    /// Binds the schema to a table (training, validation or test) so rows can be encoded.
    public func encoder(for table: CSVTable) throws -> MetadataEncoder {
        try MetadataEncoder(schema: self, table: table)
    }

    /// The categorical columns of the ISIC 2024 layout.
    public static let isic2024Categorical = [
        "sex", "anatom_site_general", "tbp_tile_type", "tbp_lv_location", "tbp_lv_location_simple", "image_type",
    ]

    /// The columns present in both the ISIC 2024 train and test metadata, in file order.
    public static let isic2024SharedColumns = [
        "isic_id", "patient_id", "age_approx", "sex", "anatom_site_general", "clin_size_long_diam_mm", "image_type",
        "tbp_tile_type", "tbp_lv_A", "tbp_lv_Aext", "tbp_lv_B", "tbp_lv_Bext", "tbp_lv_C", "tbp_lv_Cext", "tbp_lv_H",
        "tbp_lv_Hext", "tbp_lv_L", "tbp_lv_Lext", "tbp_lv_areaMM2", "tbp_lv_area_perim_ratio", "tbp_lv_color_std_mean",
        "tbp_lv_deltaA", "tbp_lv_deltaB", "tbp_lv_deltaL", "tbp_lv_deltaLB", "tbp_lv_deltaLBnorm",
        "tbp_lv_eccentricity", "tbp_lv_location", "tbp_lv_location_simple", "tbp_lv_minorAxisMM",
        "tbp_lv_nevi_confidence", "tbp_lv_norm_border", "tbp_lv_norm_color", "tbp_lv_perimeterMM",
        "tbp_lv_radial_color_std_max", "tbp_lv_stdL", "tbp_lv_stdLExt", "tbp_lv_symm_2axis",
        "tbp_lv_symm_2axis_angle", "tbp_lv_x", "tbp_lv_y", "tbp_lv_z", "attribution", "copyright_license",
    ]

    /// Columns that identify an image, patient or source and are never features.
    public static let identifierColumns: Set<String> = ["isic_id", "patient_id", "attribution", "copyright_license"]

    /// Columns known only after diagnosis, never features.
    public static let postDiagnosisColumns: Set<String> = [
        "iddx_full", "iddx_1", "iddx_2", "iddx_3", "iddx_4", "iddx_5", "mel_mitotic_index", "mel_thick_mm",
        "lesion_id", "tbp_lv_dnn_lesion_confidence", "target",
        // ISIC Archive records (JSON sidecars):
        "benign_malignant", "diagnosis", "diagnosis_confirm_type",
    ]

    /// Chooses the feature columns of a table.
    ///
    /// A table with the ISIC 2024 columns uses those shared by the train and test files,
    /// minus identifiers, with the six string-valued columns categorical. Any other
    /// table uses every column except identifiers, post-diagnosis columns and the label:
    /// a column whose non-empty cells all parse as finite numbers is numeric, the rest
    /// categorical.
    public static func defaultColumns(for table: CSVTable, label: String) -> (categorical: [String], numeric: [String]) {
        let excluded = identifierColumns.union(postDiagnosisColumns).union([label])
        if table.hasColumn("tbp_lv_areaMM2") {
            let features = isic2024SharedColumns.filter { table.hasColumn($0) && !excluded.contains($0) }
            let categorical = features.filter { isic2024Categorical.contains($0) }
            let numeric = features.filter { !isic2024Categorical.contains($0) }
            return (categorical, numeric)
        }

        var categorical: [String] = []
        var numeric: [String] = []
        for (index, name) in table.columns.enumerated() where !excluded.contains(name) {
            var allNumbers = true
            var anyValue = false
            let scratch = UnsafeMutablePointer<CChar>.allocate(capacity: CSVTable.maxNumberLength + 1)
            defer { scratch.deallocate() }
            for row in 0..<table.rowCount {
                guard let text = table.cell(row: row, column: index) else { continue }
                anyValue = true
                let bytes = Array(text.utf8)
                let parsed = bytes.withUnsafeBufferPointer { CSVTable.parseNumber($0, scratch: scratch) }
                // An infinity still makes the column numeric, so fitting rejects it by row.
                if parsed == nil {
                    allNumbers = false
                    break
                }
            }
            if anyValue && allNumbers { numeric.append(name) } else { categorical.append(name) }
        }
        return (categorical, numeric)
    }
}

/// A `MetadataSchema` bound to one table: column positions resolved and numeric
/// columns parsed once, so encoding a row is a few array reads.
public struct MetadataEncoder: Sendable {
    public let schema: MetadataSchema
    public let table: CSVTable
    private let categoricalColumns: [Int]
    private let slotByValue: [[String: Int]]
    /// Numeric columns as floats, NaN where missing.
    private let numericValues: [[Float]]

    init(schema: MetadataSchema, table: CSVTable) throws {
        self.schema = schema
        self.table = table
        categoricalColumns = try schema.categorical.map { try table.columnIndex($0.name) }
        slotByValue = schema.categorical.map { column in
            Dictionary(uniqueKeysWithValues: column.vocabulary.enumerated().map { ($1, $0) })
        }
        numericValues = try table.floatColumns(schema.numeric.map(\.name))
    }

    /// The length of each encoded row.
    public var width: Int { schema.width }

    /// Writes the encoding of `row` into `output[0 ..< width]`.
    public func encode(row: Int, into output: UnsafeMutablePointer<Float>) {
        var offset = 0
        for (k, column) in schema.categorical.enumerated() {
            let slots = column.slotCount
            for j in 0..<slots { output[offset + j] = schema.softLabel }
            let active: Int
            if let value = table.cell(row: row, column: categoricalColumns[k]) {
                active = slotByValue[k][value] ?? column.vocabulary.count + 1
            } else {
                active = column.vocabulary.count
            }
            output[offset + active] = 1
            offset += slots
        }
        for (k, column) in schema.numeric.enumerated() {
            let value = numericValues[k][row]
            if !value.isNaN {
                output[offset] = Float((Double(value) - column.mean) / column.standardDeviation)
                output[offset + 1] = 0
            } else {
                output[offset] = 0
                output[offset + 1] = 1
            }
            offset += 2
        }
    }

    /// Returns the encoding of `row` as a new array.
    public func encode(row: Int) -> [Float] {
        var vector = [Float](repeating: 0, count: width)
        vector.withUnsafeMutableBufferPointer { encode(row: row, into: $0.baseAddress!) }
        return vector
    }
}
