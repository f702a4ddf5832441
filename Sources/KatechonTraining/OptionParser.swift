import Foundation

/// An error in the command line: unknown option, missing value, invalid value.
public struct CommandLineError: Error, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// One option a subcommand accepts, for parsing and for its help text.
public struct OptionSpec: Sendable {
    public enum Kind: Sendable {
        /// Takes a value (`--lr 3e-4`).
        case value(placeholder: String)
        /// Takes no value (`--augment`).
        case flag
    }

    public let name: String
    public let kind: Kind
    public let help: String
    public let defaultValue: String?

    public static func value(_ name: String, _ placeholder: String, _ help: String,
                             default defaultValue: String? = nil) -> OptionSpec {
        OptionSpec(name: name, kind: .value(placeholder: placeholder), help: help,
                   defaultValue: defaultValue)
    }

    public static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .flag, help: help, defaultValue: nil)
    }
}

/// Parsed options of one subcommand, with typed accessors that reject invalid values.
///
/// Options are `--name value`, `--name=value` or `--flag`; words that are not options are
/// positional arguments. Every option must be declared by the subcommand, so a typo is an
/// error naming the option instead of a silently ignored setting.
public struct ParsedOptions {
    public let command: String
    public private(set) var values: [String: String] = [:]
    public private(set) var flags: Set<String> = []
    public private(set) var positional: [String] = []

    public init(command: String, arguments: [String], specs: [OptionSpec]) throws {
        self.command = command
        let byName = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else {
                positional.append(argument)
                continue
            }
            var name = argument
            var inlineValue: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            guard let spec = byName[name] else {
                let nearest = specs.map(\.name).min { editDistance($0, name) < editDistance($1, name) }
                if let nearest, editDistance(nearest, name) <= 3 {
                    throw CommandLineError("unknown option \(name) for '\(command)'; did you mean \(nearest)? See 'katechon-dist \(command) --help'")
                }
                throw CommandLineError("unknown option \(name) for '\(command)'; see 'katechon-dist \(command) --help' for its options")
            }
            switch spec.kind {
            case .flag:
                if inlineValue != nil {
                    throw CommandLineError("option \(name) takes no value")
                }
                flags.insert(name)
            case .value:
                if let inlineValue {
                    values[name] = inlineValue
                } else {
                    guard index < arguments.count else {
                        throw CommandLineError("option \(name) needs a value")
                    }
                    values[name] = arguments[index]
                    index += 1
                }
            }
        }
        for spec in specs where values[spec.name] == nil {
            if let defaultValue = spec.defaultValue { values[spec.name] = defaultValue }
        }
    }

    public func has(_ name: String) -> Bool {
        values[name] != nil || flags.contains(name)
    }

    public func flag(_ name: String) -> Bool {
        flags.contains(name)
    }

    public func string(_ name: String) -> String? {
        values[name]
    }

    /// Returns the value of a required option, or throws naming it.
    public func required(_ name: String) throws -> String {
        guard let value = values[name] else {
            throw CommandLineError("missing required option \(name) for '\(command)'")
        }
        return value
    }

    public func int(_ name: String) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text) else {
            throw CommandLineError("option \(name) expects an integer, got '\(text)'")
        }
        return value
    }

    public func double(_ name: String) throws -> Double? {
        guard let text = values[name] else { return nil }
        guard let value = Double(text), value.isFinite else {
            throw CommandLineError("option \(name) expects a finite number, got '\(text)'")
        }
        return value
    }

    /// Returns a comma-separated list, without empty items.
    public func list(_ name: String) -> [String]? {
        values[name].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty } }
    }

    /// Three comma-separated numbers, for per-channel mean and std.
    public func triple(_ name: String) throws -> [Float]? {
        guard let items = list(name) else { return nil }
        let numbers = items.compactMap { Float($0) }
        guard numbers.count == 3, items.count == 3 else {
            throw CommandLineError("option \(name) expects three comma-separated numbers, got '\(values[name]!)'")
        }
        return numbers
    }
}

/// Returns the Levenshtein distance between two strings, for suggesting the option a
/// user probably meant.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}

/// Formats a subcommand's usage line and option table for `--help`.
public func helpText(usage: String, summary: String, specs: [OptionSpec]) -> String {
    var lines = ["usage: \(usage)", "", summary, "", "options:"]
    for spec in specs {
        var left = "  \(spec.name)"
        if case .value(let placeholder) = spec.kind { left += " \(placeholder)" }
        var help = spec.help
        if let defaultValue = spec.defaultValue { help += " (default \(defaultValue))" }
        let padding = max(1, 30 - left.count)
        lines.append(left + String(repeating: " ", count: padding) + help)
    }
    return lines.joined(separator: "\n")
}
