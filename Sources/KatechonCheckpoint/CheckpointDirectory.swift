import Foundation

/// The layout of `RUN_DIR/checkpoints`: `step-<8 digits>.kcpt` files, the `latest` pointer,
/// the retention history and temporary files of writes in progress.
public struct CheckpointDirectory: Sendable {
    public let runDirectory: URL

    public init(runDirectory: URL) {
        self.runDirectory = runDirectory
    }

    /// `RUN_DIR/checkpoints`.
    public var folder: URL { runDirectory.appendingPathComponent("checkpoints") }

    /// `RUN_DIR/checkpoints/latest`, a text file with the newest checkpoint's file name.
    public var latestFile: URL { folder.appendingPathComponent("latest") }

    /// The sidecar with the step and validation metric of each kept checkpoint.
    public var historyFile: URL { folder.appendingPathComponent("history.json") }

    /// Returns the file name of the checkpoint of `step`: `step-` and at least 8 digits.
    public static func fileName(step: Int) -> String {
        "step-" + String(format: "%08d", step) + ".kcpt"
    }

    /// Returns the step of a checkpoint file name, or nil for any other name.
    public static func step(fromFileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".kcpt") else { return nil }
        let digits = name.dropFirst("step-".count).dropLast(".kcpt".count)
        guard digits.count >= 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    public func url(step: Int) -> URL {
        folder.appendingPathComponent(Self.fileName(step: step))
    }

    /// Returns the checkpoint files in the folder, oldest step first. Temporary files and
    /// other names are ignored; a missing folder has none.
    public func checkpointFiles() throws -> [(step: Int, url: URL)] {
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            // FileManager's error carries no errno on Linux; opendir repeats the failure to get one.
            let handle = opendir(folder.path)
            let code = handle == nil ? errno : EIO
            if let handle { closedir(handle) }
            throw CheckpointError.ioFailed(file: folder, operation: "list folder", code: code)
        }
        return names.compactMap { name in
            Self.step(fromFileName: name).map { (step: $0, url: folder.appendingPathComponent(name)) }
        }.sorted { $0.step < $1.step }
    }

    /// Deletes temporary files left by a crashed write; returns what it deleted.
    ///
    /// Only one process may write checkpoints to a run directory at a time: this also deletes
    /// the temporary file of a write in progress in another process.
    @discardableResult
    public func removeStaleTemporaryFiles() throws -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var removed: [URL] = []
        for name in names where name.hasPrefix(DurableFile.temporaryPrefix) {
            let url = folder.appendingPathComponent(name)
            if unlink(url.path) != 0 && errno != ENOENT {
                throw CheckpointError.ioFailed(file: url, operation: "delete stale temporary file",
                                               code: errno)
            }
            removed.append(url)
        }
        return removed
    }

    /// Returns the checkpoint `latest` names, or nil when there is no `latest`.
    ///
    /// Throws when `latest` does not contain a checkpoint file name or names a missing file.
    public func latestCheckpoint() throws -> URL? {
        let contents: String
        do {
            contents = try String(contentsOf: latestFile, encoding: .utf8)
        } catch {
            if FileManager.default.fileExists(atPath: latestFile.path) {
                throw CheckpointError.invalidLatest(latest: latestFile, contents: "(unreadable: \(error))")
            }
            return nil
        }
        let name = contents.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.step(fromFileName: name) != nil else {
            throw CheckpointError.invalidLatest(latest: latestFile, contents: name)
        }
        let target = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: target.path) else {
            throw CheckpointError.latestTargetMissing(latest: latestFile, target: target)
        }
        return target
    }

    /// Points `latest` at `checkpoint` atomically.
    func setLatest(_ checkpoint: URL) throws {
        let contents = Data((checkpoint.lastPathComponent + "\n").utf8)
        try DurableFile.writeAtomically(contents, to: latestFile)
    }

    /// Resolves `--resume auto|FILE` to the checkpoint to load.
    ///
    /// `auto` returns the file `latest` names, or nil when the run has no checkpoint yet.
    /// When `latest` is missing but checkpoint files exist, as after a crash between
    /// renaming a first checkpoint and writing `latest`, it returns the newest one. This is
    /// safe because every file under a final name was complete before its rename. Any other argument is a path, relative to
    /// the current directory, that must exist.
    public static func resolveResume(runDirectory: URL, argument: String) throws -> URL? {
        if argument == "auto" {
            let directory = CheckpointDirectory(runDirectory: runDirectory)
            if let latest = try directory.latestCheckpoint() {
                return latest
            }
            return try directory.checkpointFiles().last?.url
        }

        return try resolveCheckpointFile(argument)
    }

    /// Returns the checkpoint a path names: the file itself, or for a `latest` file the
    /// checkpoint that it names in its folder.
    public static func resolveCheckpointFile(_ path: String) throws -> URL {
        let file = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw CheckpointError.fileNotFound(file: file)
        }
        if file.lastPathComponent == "latest" {
            let directory = CheckpointDirectory(runDirectory: file.deletingLastPathComponent().deletingLastPathComponent())
            if directory.latestFile.standardizedFileURL == file.standardizedFileURL,
               let target = try directory.latestCheckpoint() {
                return target
            }
        }
        return file
    }
}
