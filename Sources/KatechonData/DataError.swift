import Foundation

/// An error reading or preparing training data, carrying the offending file, line,
/// column or `isic_id`, so the message shows what to fix.
public enum DataError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// A file or folder could not be read at all.
    case unreadableFile(path: String, reason: String)
    /// A CSV record breaks RFC 4180 (for example an unterminated quoted field).
    case malformedCSV(path: String, line: Int, column: Int, reason: String)
    /// A CSV record has a different number of fields than the header.
    /// `column` names the first header column without a value, or is `nil` when the
    /// row has extra fields.
    case wrongFieldCount(path: String, line: Int, expected: Int, found: Int, column: String?)
    /// A requested column is not in the table.
    case missingColumn(name: String, path: String, available: [String])
    /// A numeric cell contains an infinity, which no scaler can standardise.
    case infiniteValue(path: String, line: Int, column: String, text: String)
    /// A JSON sidecar could not be parsed or lacks the `meta` record.
    case invalidSidecar(path: String, reason: String)
    /// An image could not be encoded (synthetic data).
    case encodingFailed(format: String, reason: String)
    /// An image's bytes could not be decoded.
    case undecodableImage(id: String, format: String, reason: String)
    /// An `isic_id` has no image in the image source.
    case imageNotFound(isicID: String, source: String)
    /// An HDF5 call failed on a file or dataset.
    case hdf5Failure(path: String, operation: String, detail: String)
    /// A row's label is missing or not one of the accepted values.
    case invalidLabel(path: String, line: Int, isicID: String, column: String, value: String?, expected: String)
    /// A setting is out of range (for example fold 5 of 5).
    case invalidSetting(name: String, value: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "cannot read \(path): \(reason)"
        case let .malformedCSV(path, line, column, reason):
            return "\(path):\(line): malformed CSV in field \(column): \(reason)"
        case let .wrongFieldCount(path, line, expected, found, column):
            let position = column.map { ", so column '\($0)' onwards has no value" } ?? ""
            return "\(path):\(line): the row has \(found) fields but the header has \(expected)\(position);"
                + " quote fields that contain commas or line breaks"
        case let .missingColumn(name, path, available):
            return "\(path): column '\(name)' not found; available columns: "
                + available.joined(separator: ", ")
        case let .infiniteValue(path, line, column, text):
            return "\(path):\(line): column '\(column)' contains the infinite value '\(text)';"
                + " replace it with a finite number or leave the cell empty to mark it missing"
        case let .invalidSidecar(path, reason):
            return "invalid JSON sidecar \(path): \(reason)"
        case let .encodingFailed(format, reason):
            return "\(format) encoding failed: \(reason)"
        case let .undecodableImage(id, format, reason):
            return "cannot decode \(format) image \(id): \(reason);"
                + " re-export the image, remove its row from the metadata, or pass --skip-bad-images"
        case let .imageNotFound(isicID, source):
            return "no image for isic_id \(isicID) in \(source);"
                + " add the image or remove the row from the metadata"
        case let .hdf5Failure(path, operation, detail):
            return "HDF5 \(operation) failed on \(path): \(detail)"
        case let .invalidLabel(path, line, isicID, column, value, expected):
            let shown = value.map { "'\($0)'" } ?? "missing"
            return "\(path):\(line): isic_id \(isicID) has label \(shown) in column '\(column)';"
                + " expected \(expected). Fix the row or drop rows with invalid labels"
        case let .invalidSetting(name, value, reason):
            return "invalid \(name) \(value): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
