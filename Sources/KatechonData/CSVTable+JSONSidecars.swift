import Foundation

/// One value of an ISIC Archive JSON record.
private enum SidecarValue: Decodable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case text(String)
    case nested

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .text(value)
        } else {
            self = .nested
        }
    }

    /// The cell text; `nil` for JSON null. Nested objects and arrays are not metadata
    /// cells and are dropped as missing.
    var cellText: String? {
        switch self {
        case .null, .nested: return nil
        case let .bool(value): return value ? "true" : "false"
        case let .integer(value): return String(value)
        case let .number(value): return String(value)
        case let .text(value): return value
        }
    }
}

/// The part of an ISIC Archive record that becomes metadata columns.
private struct SidecarRecord: Decodable {
    struct Meta: Decodable {
        let clinical: OrderedFields?
        let acquisition: OrderedFields?
    }
    let meta: Meta?
}

/// A JSON object's fields in file order.
private struct OrderedFields: Decodable {
    var fields: [(String, SidecarValue)] = []

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        // Swift's JSONDecoder does not promise key order, so sort for a stable layout.
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            fields.append((key.stringValue, try container.decode(SidecarValue.self, forKey: key)))
        }
    }
}

extension CSVTable {
    /// Builds a metadata table from the ISIC Archive JSON records (`<isic_id>.json`) in a
    /// folder. Every field under `meta.clinical` and `meta.acquisition` becomes a column
    /// of its own name, JSON `null` (or an absent field) a missing cell, and the first
    /// column is `isic_id`, taken from the file name. Rows are sorted by `isic_id`;
    /// a row's "line" in messages is its position in that order plus one.
    public init(jsonSidecarsIn folder: URL) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
                .filter { $0.lowercased().hasSuffix(".json") }.sorted()
        } catch {
            throw DataError.unreadableFile(path: folder.path, reason: error.localizedDescription)
        }
        guard !names.isEmpty else {
            throw DataError.unreadableFile(path: folder.path,
                                           reason: "no metadata: the folder has no <isic_id>.json records; pass --metadata FILE.csv")
        }

        var columns = ["isic_id"]
        var columnIndex: [String: Int] = ["isic_id": 0]
        var records: [[Int: String]] = []
        let decoder = JSONDecoder()
        for name in names {
            let url = folder.appendingPathComponent(name)
            let record: SidecarRecord
            do {
                record = try decoder.decode(SidecarRecord.self, from: Data(contentsOf: url))
            } catch {
                throw DataError.invalidSidecar(path: url.path, reason: "\(error)")
            }
            guard let meta = record.meta else {
                throw DataError.invalidSidecar(path: url.path, reason: "the record has no 'meta' object")
            }
            var cells: [Int: String] = [0: String(name.dropLast(5))]
            for (field, value) in (meta.clinical?.fields ?? []) + (meta.acquisition?.fields ?? []) {
                let index: Int
                if let existing = columnIndex[field] {
                    index = existing
                } else {
                    index = columns.count
                    columns.append(field)
                    columnIndex[field] = index
                }
                if let text = value.cellText { cells[index] = text }
            }
            records.append(cells)
        }

        let rows = records.map { cells in (0..<columns.count).map { cells[$0] } }
        self.init(columns: columns, rows: rows, source: folder.path)
    }
}

extension CSVTable {
    /// Opens the metadata of a data set: the CSV file when `metadataPath` is given, else
    /// the JSON sidecars in the image folder. An HDF5 image file without a CSV throws,
    /// because HDF5 files carry no metadata.
    public static func load(metadataPath: String?, imagesPath: String) throws -> CSVTable {
        if let metadataPath {
            return try CSVTable(contentsOf: URL(fileURLWithPath: metadataPath))
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: imagesPath, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError.unreadableFile(path: imagesPath,
                                           reason: "metadata is needed: pass --metadata FILE.csv, or images as a folder with <isic_id>.json records")
        }
        return try CSVTable(jsonSidecarsIn: URL(fileURLWithPath: imagesPath))
    }
}
