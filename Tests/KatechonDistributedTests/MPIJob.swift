import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// One run of the `katechon-mpi-probe` executable, under `mpirun -np N` or alone, in a
/// process group of its own, with standard output and error captured in files.
///
/// `wait(timeout:)` enforces the timeout: it sends SIGTERM to the process group, then
/// SIGKILL, so a hung job fails the test instead of hanging the suite.
final class MPIJob {
    /// How a job ended.
    struct Outcome {
        /// Exit status, or 128 + signal number when a signal ended `mpirun` (or the probe).
        let status: Int32
        let standardOutput: String
        let standardError: String
        let elapsedSeconds: Double
        let timedOut: Bool

        /// Everything a failing assertion should show.
        var summary: String {
            "status \(status)\(timedOut ? " (timed out and killed)" : ""), "
                + "\(String(format: "%.2f", elapsedSeconds)) s\n"
                + "--- stdout ---\n\(standardOutput)--- stderr ---\n\(standardError)"
        }
    }

    /// Environment for `mpirun`: allow running as root (the test container's user), and
    /// use only the loopback and shared-memory transports.
    static let mpiEnvironment = [
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_btl": "self,vader",
    ]

    static let defaultTimeoutSeconds = 60.0

    let pid: pid_t
    private let startNanoseconds: UInt64
    private let outputURL: URL
    private let errorURL: URL

    private init(pid: pid_t, start: UInt64, outputURL: URL, errorURL: URL) {
        self.pid = pid
        self.startNanoseconds = start
        self.outputURL = outputURL
        self.errorURL = errorURL
    }

    // MARK: Finding the programs

    /// Directories searched for the probe: the one holding the test runner (in SwiftPM's
    /// build folder the probe sits next to it), the test bundle's, and `.build/release`
    /// of the package.
    static var probeSearchDirectories: [URL] {
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
            packageRoot.appendingPathComponent(".build/release"),
        ]
    }

    static func probeURL() throws -> URL {
        let directories = probeSearchDirectories
        for directory in directories {
            let candidate = directory.appendingPathComponent("katechon-mpi-probe")
            if FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        throw MPIJobSetupError(
            "katechon-mpi-probe not found in \(directories.map(\.path)); "
            + "run `swift build -c release` before `swift test -c release`")
    }

    static func mpirunPath() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/mpirun"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        throw MPIJobSetupError("mpirun not found on PATH (\(path)); install openmpi-bin")
    }

    // MARK: Running

    /// Starts the probe with `probeArguments`, under `mpirun --oversubscribe -np ranks`,
    /// or alone (an MPI singleton) when `ranks` is nil.
    static func launch(ranks: Int?, probeArguments: [String],
                       removingEnvironment removed: Set<String> = []) throws -> MPIJob {
        let probe = try probeURL().path
        var arguments: [String]
        if let ranks {
            arguments = [try mpirunPath(), "--oversubscribe", "-np", String(ranks), probe]
        } else {
            arguments = [probe]
        }
        arguments += probeArguments

        var environment = ProcessInfo.processInfo.environment
        if ranks != nil {
            environment.merge(mpiEnvironment) { _, new in new }
        }
        for name in removed {
            environment[name] = nil
        }

        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("katechon-mpi-job-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let outputURL = directory.appendingPathComponent("stdout")
        let errorURL = directory.appendingPathComponent("stderr")

        let pid = try spawn(arguments: arguments, environment: environment,
                            outputPath: outputURL.path, errorPath: errorURL.path)
        return MPIJob(pid: pid, start: DispatchTime.now().uptimeNanoseconds,
                      outputURL: outputURL, errorURL: errorURL)
    }

    /// Runs the probe to the end and returns how it ended.
    static func run(ranks: Int?, _ probeArguments: [String],
                    removingEnvironment removed: Set<String> = []) throws -> Outcome {
        try launch(ranks: ranks, probeArguments: probeArguments, removingEnvironment: removed)
            .wait()
    }

    /// Waits for the job to end, killing its process group after `timeout` seconds.
    func wait(timeout: Double = MPIJob.defaultTimeoutSeconds) -> Outcome {
        var status: Int32 = 0
        var timedOut = false
        let deadline = startNanoseconds + UInt64(timeout * 1e9)

        while waitpid(pid, &status, WNOHANG) != pid {
            if DispatchTime.now().uptimeNanoseconds > deadline {
                timedOut = true
                terminateGroup(status: &status)
                break
            }
            usleep(10_000)
        }

        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - startNanoseconds) * 1e-9
        let output = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        let error = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: outputURL.deletingLastPathComponent())

        // waitpid status: the low 7 bits hold the terminating signal, or 0 for a normal
        // exit whose code is in bits 8...15.
        let signal = status & 0x7f
        let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return Outcome(status: code, standardOutput: output, standardError: error,
                       elapsedSeconds: elapsed, timedOut: timedOut)
    }

    /// Sends SIGTERM to the job's process group, SIGKILL 5 s later if it still runs, and
    /// reaps the launched process.
    private func terminateGroup(status: inout Int32) {
        kill(-pid, SIGTERM)
        let graceDeadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
        while waitpid(pid, &status, WNOHANG) != pid {
            if DispatchTime.now().uptimeNanoseconds > graceDeadline {
                kill(-pid, SIGKILL)
                waitpid(pid, &status, 0)
                return
            }
            usleep(10_000)
        }
        kill(-pid, SIGKILL)
    }

    /// Starts `arguments[0]` in a new process group (`posix_spawn` with
    /// `POSIX_SPAWN_SETPGROUP`), standard input from /dev/null, standard output and error
    /// to the given files.
    private static func spawn(arguments: [String], environment: [String: String],
                              outputPath: String, errorPath: String) throws -> pid_t {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, outputPath,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fileActions, 2, errorPath,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] =
            environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }

        var pid: pid_t = 0
        let code = posix_spawn(&pid, arguments[0], &fileActions, &attributes, argv, envp)
        guard code == 0 else {
            throw MPIJobSetupError("posix_spawn of \(arguments[0]) failed: "
                                       + String(cString: strerror(code)))
        }
        return pid
    }
}

/// Setup failure of an MPI test (missing program, failed spawn), reported as an error so
/// the test fails with this message.
struct MPIJobSetupError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
