import Foundation

extension CheckpointFile {
    /// Returns a report of a checkpoint for `katechon-dist inspect`: the manifest
    /// pretty-printed, one line per tensor with shape, count, min, max and mean, and the
    /// totals with the compression ratio.
    ///
    /// Reads and verifies the whole file, so it throws the same errors as `read`.
    public static func describe(_ url: URL) throws -> String {
        let checkpoint = try read(url)
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0

        var lines: [String] = []
        lines.append("checkpoint: \(url.path)")
        lines.append("format version: \(formatVersion)")
        lines.append("manifest:")
        lines.append(prettyManifest(checkpoint.manifest))

        lines.append("tensors: \(checkpoint.tensors.count)")
        let nameWidth = max(4, checkpoint.tensors.map(\.name.count).max() ?? 0)
        lines.append(pad("name", nameWidth) + "  " + pad("shape", 18) + "  " + pad("count", 12, right: true)
            + "  " + pad("min", 12, right: true) + "  " + pad("max", 12, right: true)
            + "  " + pad("mean", 12, right: true))
        var parameterCount = 0
        for tensor in checkpoint.tensors {
            let summary = TensorSummary(tensor.values)
            parameterCount += tensor.values.count
            var line = pad(tensor.name, nameWidth) + "  " + pad("\(tensor.shape)", 18) + "  "
                + pad("\(tensor.values.count)", 12, right: true)
                + "  " + pad(format(summary.min), 12, right: true)
                + "  " + pad(format(summary.max), 12, right: true)
                + "  " + pad(format(summary.mean), 12, right: true)
            if summary.nanCount > 0 {
                line += "  (\(summary.nanCount) NaN)"
            }
            lines.append(line)
        }

        let rawBytes = 4 * parameterCount
        let ratio = fileBytes > 0 ? Double(rawBytes) / Double(fileBytes) : 0
        lines.append("total: \(parameterCount) values, \(rawBytes) bytes raw, \(fileBytes) bytes "
            + "compressed (ratio \(String(format: "%.3f", ratio)))")
        return lines.joined(separator: "\n")
    }

    private static func prettyManifest(_ manifest: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: manifest, options: [.fragmentsAllowed]),
           let pretty = try? JSONSerialization.data(withJSONObject: object,
                                                    options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed]),
           let text = String(data: pretty, encoding: .utf8) {
            return text
        }
        let text = String(decoding: manifest, as: UTF8.self)
        return "(not valid JSON, \(manifest.count) bytes) " + text
    }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }

    private static func format(_ value: Double) -> String {
        value.isNaN ? "-" : String(format: "%.6g", value)
    }
}

/// Minimum, maximum and mean of a tensor's values, ignoring NaN.
struct TensorSummary {
    var min = Double.nan
    var max = Double.nan
    var mean = Double.nan
    var nanCount = 0

    init(_ values: [Float]) {
        var low = Float.infinity
        var high = -Float.infinity
        var sum = 0.0
        var finiteOrInfinite = 0
        values.withUnsafeBufferPointer { buffer in
            for value in buffer {
                if value.isNaN {
                    nanCount += 1
                    continue
                }
                low = Swift.min(low, value)
                high = Swift.max(high, value)
                sum += Double(value)
                finiteOrInfinite += 1
            }
        }
        if finiteOrInfinite > 0 {
            min = Double(low)
            max = Double(high)
            mean = sum / Double(finiteOrInfinite)
        }
    }
}
