import Foundation

/// Encodes a flat JSON object with keys in the given order and full-precision numbers.
///
/// `JSONSerialization` neither keeps key order nor prints doubles round-trippably on every
/// platform, and metric files are read by people as well as scripts, so this writes the
/// object by hand. Values may be numbers, strings, booleans, nil (JSON null), arrays of
/// those, or nested `[(String, Any?)]` objects.
public func jsonObject(_ fields: [(String, Any?)]) -> String {
    "{" + fields.map { "\(jsonString($0.0)): \(jsonValue($0.1))" }.joined(separator: ", ") + "}"
}

/// Returns `text` as a JSON string literal with the required escapes.
public func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

private func jsonValue(_ value: Any?) -> String {
    switch value {
    case nil:
        return "null"
    case let double as Double:
        return double.isFinite ? "\(double)" : "null"
    case let float as Float:
        return float.isFinite ? "\(Double(float))" : "null"
    case let int as Int:
        return "\(int)"
    case let int as Int32:
        return "\(int)"
    case let int as Int64:
        return "\(int)"
    case let int as UInt64:
        return "\(int)"
    case let bool as Bool:
        return bool ? "true" : "false"
    case let string as String:
        return jsonString(string)
    case let object as [(String, Any?)]:
        return jsonObject(object)
    case let array as [Any?]:
        return "[" + array.map(jsonValue).joined(separator: ", ") + "]"
    case let array as [Double]:
        return "[" + array.map { jsonValue($0) }.joined(separator: ", ") + "]"
    case let array as [Int]:
        return "[" + array.map { "\($0)" }.joined(separator: ", ") + "]"
    default:
        return jsonString("\(value!)")
    }
}

/// Appends one JSON object per line to a file, flushing after each line so a crash
/// loses at most the line being written.
public final class JSONLinesWriter {
    private let handle: FileHandle
    public let url: URL

    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw CommandLineError("cannot create \(url.path): check that the folder is writable")
            }
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit {
        try? handle.close()
    }

    public func append(_ fields: [(String, Any?)]) throws {
        try handle.write(contentsOf: Data((jsonObject(fields) + "\n").utf8))
    }
}
