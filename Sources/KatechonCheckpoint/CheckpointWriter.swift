import Foundation

/// Saves checkpoints of a run atomically into `RUN_DIR/checkpoints` and applies `--keep`.
///
/// A save writes `step-<8 digits>.kcpt` under a temporary name in the same folder, fsyncs
/// it, renames it and fsyncs the folder, then replaces `latest` the same way. A crash at
/// any point leaves every earlier checkpoint and `latest` as they were, plus at most one
/// temporary file, which the next `CheckpointWriter` on the folder deletes.
public final class CheckpointWriter {
    /// The result of one save.
    public struct SavedCheckpoint: Sendable {
        public var step: Int
        public var file: URL
        public var statistics: CheckpointFile.WriteStatistics
        /// Checkpoints deleted by `--keep` after this save.
        public var removed: [URL]
        /// A problem that did not fail the save but that the caller should log, such as an
        /// unreadable `history.json` that kept `--keep` from deleting anything.
        public var warning: String?
    }

    public let directory: CheckpointDirectory
    public let keep: Int?
    public let options: CheckpointFile.WriteOptions

    /// A test hook: the next save stops after this many file bytes, as if killed, leaving
    /// its temporary file behind.
    var crashAfterFileBytes: Int?

    /// Creates `RUN_DIR/checkpoints` if needed and deletes temporary files of crashed writes.
    ///
    /// - Parameter keep: keep the newest `keep` checkpoints plus the best by validation
    ///   metric; nil keeps all.
    public init(runDirectory: URL, keep: Int? = nil,
                options: CheckpointFile.WriteOptions = CheckpointFile.WriteOptions()) throws {
        if let keep, keep < 1 {
            throw CheckpointError.invalidKeep(keep)
        }
        self.directory = CheckpointDirectory(runDirectory: runDirectory)
        self.keep = keep
        self.options = options

        do {
            try FileManager.default.createDirectory(at: directory.folder,
                                                    withIntermediateDirectories: true)
        } catch {
            // FileManager's error carries no errno on Linux; mkdir repeats the failure to get one.
            let code = mkdir(directory.folder.path, 0o755) == 0 ? EIO : errno
            throw CheckpointError.ioFailed(file: directory.folder, operation: "create folder",
                                           code: code)
        }
        try directory.removeStaleTemporaryFiles()
    }

    /// Writes the checkpoint of `step`, points `latest` at it and applies `--keep`.
    ///
    /// `metric` is the validation metric of this step, if one was computed; the best
    /// checkpoint by it survives `--keep`. Saving a step that already has a checkpoint
    /// replaces that file atomically.
    @discardableResult
    public func save(step: Int, manifest: Data, tensors: [NamedTensor],
                     metric: ValidationMetric? = nil) throws -> SavedCheckpoint {
        guard step >= 0 else { throw CheckpointError.invalidStep(step) }
        let final = directory.url(step: step)
        let temporary = DurableFile.temporaryURL(in: directory.folder, for: final.lastPathComponent)

        let statistics: CheckpointFile.WriteStatistics
        do {
            statistics = try CheckpointFile.write(manifest: manifest, tensors: tensors, to: temporary,
                                                  options: options,
                                                  crashAfterFileBytes: crashAfterFileBytes)
            try DurableFile.rename(temporary, to: final)
        } catch is SimulatedCrash {
            throw SimulatedCrash()
        } catch {
            unlink(temporary.path)
            throw error
        }

        try directory.setLatest(final)
        let retention = CheckpointRetention(directory: directory)
        let outcome = try retention.record(step: step, file: final, metric: metric, keep: keep)
        return SavedCheckpoint(step: step, file: final, statistics: statistics,
                               removed: outcome.removed, warning: outcome.warning)
    }
}
