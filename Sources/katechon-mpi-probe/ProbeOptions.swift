import Foundation
import KatechonDistributed

/// Command line of the probe: a subcommand followed by `--name value` pairs.
struct ProbeOptions {
    /// Invalid command line; the message names the option and the expected form.
    struct InvalidOption: Error, CustomStringConvertible {
        let description: String
    }

    /// One all-reduce configuration: gradient buffer length and bucket size in bytes.
    struct ReduceCase: CustomStringConvertible {
        let count: Int
        let bucketBytes: Int

        var description: String { "\(count):\(bucketBytes)" }
    }

    let subcommand: String
    private let values: [String: String]

    init(arguments: [String]) throws {
        guard let first = arguments.first else {
            throw InvalidOption(description: "missing subcommand")
        }
        subcommand = first

        var parsed: [String: String] = [:]
        var index = 1
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--"), index + 1 < arguments.count else {
                throw InvalidOption(description: "expected `--name value` pairs, got \(name)")
            }
            parsed[String(name.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
        values = parsed
    }

    func string(_ name: String, default fallback: String) -> String {
        values[name] ?? fallback
    }

    func integer(_ name: String, default fallback: Int) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text) else {
            throw InvalidOption(description: "--\(name) must be an integer, got \(text)")
        }
        return value
    }

    func number(_ name: String) throws -> Float? {
        guard let text = values[name] else { return nil }
        guard let value = Float(text), value >= 0 else {
            throw InvalidOption(description: "--\(name) must be a number >= 0, got \(text)")
        }
        return value
    }

    /// Reads `--tolerance REL` with optional `--absolute-tolerance ABS` (default 0); nil
    /// when `--tolerance` is absent.
    func tolerance() throws -> (relative: Float, absolute: Float)? {
        guard let relative = try number("tolerance") else { return nil }
        return (relative, try number("absolute-tolerance") ?? 0)
    }

    /// Reads `--thread-level`, the MPI thread support to request (default `multiple`).
    func threadLevel() throws -> Communicator.ThreadLevel {
        let text = string("thread-level", default: "multiple")
        let levels: [String: Communicator.ThreadLevel] = [
            "multiple": .multiple, "serialized": .serialized, "funneled": .funneled, "single": .single,
        ]
        guard let level = levels[text] else {
            throw InvalidOption(description: "--thread-level must be multiple, serialized, "
                                + "funneled or single, got \(text)")
        }
        return level
    }

    func compression() throws -> GradientCompression {
        let text = string("compression", default: "none")
        guard let value = GradientCompression(rawValue: text) else {
            throw InvalidOption(description: "--compression must be none, fp16 or bf16, got \(text)")
        }
        return value
    }

    /// Reads `--cases COUNT:BYTES,...`, or else `--count N` with `--bucket-bytes B` or
    /// `--bucket-mb X` (MiB, fractions allowed).
    func reduceCases() throws -> [ReduceCase] {
        if let text = values["cases"] {
            return try text.split(separator: ",").map { item in
                let parts = item.split(separator: ":")
                guard parts.count == 2, let count = Int(parts[0]), let bytes = Int(parts[1]),
                      count >= 0, bytes > 0 else {
                    throw InvalidOption(description: "--cases items must be COUNT:BUCKET_BYTES "
                                        + "with COUNT >= 0 and BUCKET_BYTES > 0, got \(item)")
                }
                return ReduceCase(count: count, bucketBytes: bytes)
            }
        }

        let count = try integer("count", default: 100_000)
        var bucketBytes = try integer("bucket-bytes", default: 25 << 20)
        if let text = values["bucket-mb"] {
            guard let megabytes = Double(text), megabytes > 0 else {
                throw InvalidOption(description: "--bucket-mb must be a positive number, got \(text)")
            }
            bucketBytes = max(1, Int(megabytes * 1_048_576))
        }
        guard count >= 0, bucketBytes > 0 else {
            throw InvalidOption(description: "--count must be >= 0 and the bucket size > 0, "
                                + "got \(count) and \(bucketBytes)")
        }
        return [ReduceCase(count: count, bucketBytes: bucketBytes)]
    }
}
