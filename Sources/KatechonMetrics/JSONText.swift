import Foundation

/// Text of JSON values for the metrics report, written by hand so that key order is fixed
/// and doubles keep all 17 significant digits.
enum JSONText {
    /// Returns `value` with 17 significant digits (`%.17g`), which reads back to the same
    /// double, or `null` for NaN and infinities, which JSON cannot represent.
    static func number(_ value: Double) -> String {
        guard value.isFinite else {
            return "null"
        }
        return String(format: "%.17g", value)
    }

    /// Returns `value` as a quoted JSON string with quotes, backslashes and control
    /// characters escaped.
    static func string(_ value: String) -> String {
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"":
                text += "\\\""
            case "\\":
                text += "\\\\"
            case "\n":
                text += "\\n"
            case "\r":
                text += "\\r"
            case "\t":
                text += "\\t"
            case _ where scalar.value < 0x20:
                text += String(format: "\\u%04x", scalar.value)
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    /// Returns a JSON object with the members in the given order.
    static func object(_ members: [(key: String, value: String)]) -> String {
        let body = members.map { "\(string($0.key)): \($0.value)" }.joined(separator: ", ")
        return "{" + body + "}"
    }
}
