import Foundation

/// A `katechon-dist` subcommand: its options, help and entry point.
public struct Subcommand {
    public let name: String
    public let usage: String
    public let summary: String
    public let options: [OptionSpec]
    public let run: (ParsedOptions) throws -> Int32

    public var help: String {
        helpText(usage: usage, summary: summary, specs: options + [.flag("--help", "show this help")])
    }
}

/// The subcommands of `katechon-dist`, in the order `--help` lists them.
public enum Commands {
    public static let all: [Subcommand] = [
        TrainCommand.subcommand,
        EvaluateCommand.subcommand,
        PredictCommand.subcommand,
        FeaturesCommand.subcommand,
        ScoreCommand.subcommand,
        ExportCommand.subcommand,
        InspectCommand.subcommand,
        SynthCommand.subcommand,
        BenchCommand.subcommand,
    ]

    public static var overview: String {
        var lines = [
            "usage: katechon-dist <subcommand> [options]",
            "",
            "Trains and applies a multimodal skin-lesion classifier (ViT + metadata, mutual",
            "attention), data-parallel over MPI: run any subcommand under `mpirun -np N`.",
            "",
            "subcommands:",
        ]
        for command in all {
            lines.append("  " + command.name.padding(toLength: 10, withPad: " ", startingAt: 0)
                         + command.summary.split(separator: "\n").first.map(String.init)!)
        }
        lines.append("")
        lines.append("Run `katechon-dist <subcommand> --help` for its options.")
        return lines.joined(separator: "\n")
    }

    /// Parses `arguments` (without the program name) and runs the subcommand; returns the
    /// exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        guard let name = arguments.first, name != "--help", name != "-h", name != "help" else {
            print(overview)
            return arguments.isEmpty ? 2 : 0
        }
        guard let command = all.first(where: { $0.name == name }) else {
            FileHandle.standardError.write(Data("katechon-dist: unknown subcommand '\(name)'\n\n\(overview)\n".utf8))
            return 2
        }
        let rest = Array(arguments.dropFirst())
        if rest.contains("--help") || rest.contains("-h") {
            print(command.help)
            return 0
        }
        do {
            let parsed = try ParsedOptions(command: name, arguments: rest, specs: command.options)
            return try command.run(parsed)
        } catch let error as CommandLineError {
            FileHandle.standardError.write(Data("katechon-dist \(name): \(error.message)\n".utf8))
            return 2
        } catch {
            FileHandle.standardError.write(Data("katechon-dist \(name): \(error)\n".utf8))
            return 1
        }
    }
}
