import Foundation
import XCTest

/// Runs the built `katechon-dist` as a user would, alone or under real `mpirun`.
enum Harness {
    /// The package root, found from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The real ISIC files beside the checkout.
    static let sharedData = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")

    /// Returns the `katechon-dist` binary next to the test bundle, else in `.build/release`.
    static func binary(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL,
            packageRoot.appendingPathComponent(".build/release"),
        ].map { $0.appendingPathComponent("katechon-dist") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            XCTFail("katechon-dist not found in \(candidates.map(\.path)); run `swift build -c release` first",
                    file: file, line: line)
            throw XCTSkip("no binary")
        }
        return found
    }

    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
        let timedOut: Bool

        var summary: String {
            "exit \(status) after \(String(format: "%.1f", seconds)) s\(timedOut ? " (timed out)" : "")\n--- stdout\n\(stdout.suffix(3000))\n--- stderr\n\(stderr.suffix(3000))"
        }
    }

    /// A running command whose output goes to files, so full pipes never block it.
    final class Running {
        let process: Process
        let outURL: URL
        let errURL: URL
        let start = Date()

        init(process: Process, outURL: URL, errURL: URL) {
            self.process = process
            self.outURL = outURL
            self.errURL = errURL
        }

        /// Waits until the command ends or `timeout` seconds pass (then it is terminated).
        func wait(timeout: Double) -> Outcome {
            var timedOut = false
            while process.isRunning {
                if Date().timeIntervalSince(start) > timeout {
                    timedOut = true
                    process.terminate()
                    let grace = Date()
                    while process.isRunning && Date().timeIntervalSince(grace) < 5 { usleep(50_000) }
                    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                    break
                }
                usleep(20_000)
            }
            process.waitUntilExit()
            let seconds = Date().timeIntervalSince(start)
            let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
            let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            return Outcome(status: process.terminationStatus, stdout: stdout, stderr: stderr,
                           seconds: seconds, timedOut: timedOut)
        }
    }

    /// Starts `katechon-dist arguments`, under `mpirun -np ranks` when `ranks` is given.
    static func start(_ arguments: [String], ranks: Int? = nil, mpirunArguments: [String] = []) throws -> Running {
        let binary = try binary()
        let process = Process()
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        // One BLAS thread per rank keeps oversubscribed runs from thrashing the cores.
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        if let ranks {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["mpirun", "--oversubscribe", "-np", String(ranks)] + mpirunArguments
                + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("katechon-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let outURL = folder.appendingPathComponent("stdout")
        let errURL = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Running(process: process, outURL: outURL, errURL: errURL)
    }

    /// Runs `katechon-dist arguments` to the end (or `timeout`).
    static func run(_ arguments: [String], ranks: Int? = nil, timeout: Double = 300) throws -> Outcome {
        try start(arguments, ranks: ranks).wait(timeout: timeout)
    }

    /// Creates a fresh empty folder under the temporary directory.
    static func temporaryFolder(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("katechon-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Returns the arguments of a short training run on the shared synthetic data: a ViT-Tiny at
    /// 32 px with two trainable blocks and a narrow decoder, one BLAS thread per rank.
    static func trainArguments(out: URL, batch: Int, steps: Int, extra: [String] = []) throws -> [String] {
        let demo = try demoData()
        return ["train", "--metadata", demo.appendingPathComponent("train-metadata.csv").path,
                "--images", demo.appendingPathComponent("train-image.hdf5").path, "--out", out.path,
                "--backbone", "tiny", "--image-size", "32", "--trainable-blocks", "2",
                "--fusion-width", "32", "--fusion-heads", "2", "--batch-size", String(batch),
                "--steps", String(steps), "--lr", "1e-3", "--folds", "4", "--threads", "1",
                "--log-every", "1", "--augment"] + extra
    }

    /// Synthetic ISIC 2024-style data written once per test process and shared.
    static func demoData() throws -> URL {
        lock.lock()
        defer { lock.unlock() }
        if let cached = cachedDemo { return cached }
        let folder = try temporaryFolder("demo")
        let outcome = try run(["synth", "--out", folder.path, "--lesions", "240", "--patients", "40",
                               "--positive-rate", "0.15", "--seed", "3"], timeout: 120)
        guard outcome.status == 0 else {
            XCTFail("synth failed: \(outcome.summary)")
            throw XCTSkip("no demo data")
        }
        cachedDemo = folder
        return folder
    }

    nonisolated(unsafe) private static var cachedDemo: URL?
    private static let lock = NSLock()
}
