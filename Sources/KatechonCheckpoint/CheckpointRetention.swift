import Foundation

/// A validation metric recorded with a checkpoint, used to keep the best one.
public struct ValidationMetric: Codable, Sendable, Equatable {
    public var name: String
    public var value: Double
    public var higherIsBetter: Bool

    public init(name: String, value: Double, higherIsBetter: Bool) {
        self.name = name
        self.value = value
        self.higherIsBetter = higherIsBetter
    }
}

/// The `--keep N` policy: which checkpoints to delete after a save.
///
/// It keeps the newest `keep` checkpoints, the best one by validation metric, and the one
/// `latest` names. The history of metrics lives in `checkpoints/history.json`, one entry
/// per checkpoint still on disk, because a metric cannot be recovered from a deleted file.
struct CheckpointRetention {
    struct Entry: Codable, Equatable {
        var file: String
        var step: Int
        var metric: ValidationMetric?
    }

    let directory: CheckpointDirectory

    /// A diverged run reports NaN or infinite metrics, which plain JSON cannot hold.
    private static let nonFiniteStrings = JSONEncoder.NonConformingFloatEncodingStrategy.convertToString(
        positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }

    /// The outcome of applying the policy after one save.
    struct Outcome {
        var removed: [URL] = []
        /// The reason nothing was deleted although `keep` is set, for the caller to log.
        var warning: String?
    }

    /// Returns the recorded entries, none when the file does not exist yet.
    func loadHistory() throws -> [Entry] {
        guard FileManager.default.fileExists(atPath: directory.historyFile.path) else { return [] }
        let data = try Data(contentsOf: directory.historyFile)
        return try Self.decoder.decode([Entry].self, from: data)
    }

    func saveHistory(_ entries: [Entry]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = Self.nonFiniteStrings
        let data = try encoder.encode(entries)
        try DurableFile.writeAtomically(data, to: directory.historyFile)
    }

    /// Returns the entry with the best metric, comparing in the direction of the newest
    /// entry that has a metric; ties keep the older checkpoint. NaN metrics never win.
    static func best(of entries: [Entry]) -> Entry? {
        guard let higherIsBetter = entries.last(where: { $0.metric != nil })?.metric?.higherIsBetter else {
            return nil
        }
        var best: Entry?
        for entry in entries {
            guard let value = entry.metric?.value, !value.isNaN else { continue }
            guard let current = best?.metric?.value else {
                best = entry
                continue
            }
            if higherIsBetter ? value > current : value < current {
                best = entry
            }
        }
        return best
    }

    /// Records the checkpoint just saved in the history and, with `keep` set, deletes the
    /// checkpoints that the policy does not keep.
    ///
    /// When the history or `latest` cannot be read, it deletes nothing, because the best
    /// checkpoint or the one `latest` names is then unknown, and returns a warning instead
    /// of failing the save. The history is rewritten with the checkpoints on disk.
    func record(step: Int, file: URL, metric: ValidationMetric?, keep: Int?) throws -> Outcome {
        let onDisk = try directory.checkpointFiles()
        let names = Set(onDisk.map { $0.url.lastPathComponent })
        var outcome = Outcome()

        var history: [Entry]
        do {
            history = try loadHistory()
        } catch {
            history = []
            outcome.warning = "\(directory.historyFile.path) is unreadable (\(error)); --keep "
                + "deleted no checkpoint because the best one is unknown. The file is rewritten "
                + "without the metrics of earlier checkpoints."
        }
        history.removeAll { !names.contains($0.file) || $0.file == file.lastPathComponent }
        history.append(Entry(file: file.lastPathComponent, step: step, metric: metric))

        // Checkpoints of an unreadable history or of an older run get entries without metric.
        let recorded = Set(history.map(\.file))
        for checkpoint in onDisk where !recorded.contains(checkpoint.url.lastPathComponent) {
            history.append(Entry(file: checkpoint.url.lastPathComponent, step: checkpoint.step, metric: nil))
        }
        history.sort { $0.step < $1.step }

        var latest: URL?
        do {
            latest = try directory.latestCheckpoint()
        } catch {
            outcome.warning = "\(error) --keep deleted no checkpoint because `latest` is unreadable."
        }

        if let keep, outcome.warning == nil {
            var keptNames = Set(onDisk.suffix(keep).map { $0.url.lastPathComponent })
            keptNames.insert(file.lastPathComponent)
            if let best = Self.best(of: history) {
                keptNames.insert(best.file)
            }
            if let latest {
                keptNames.insert(latest.lastPathComponent)
            }
            for checkpoint in onDisk where !keptNames.contains(checkpoint.url.lastPathComponent) {
                if unlink(checkpoint.url.path) != 0 && errno != ENOENT {
                    throw CheckpointError.ioFailed(file: checkpoint.url,
                                                   operation: "delete old checkpoint", code: errno)
                }
                outcome.removed.append(checkpoint.url)
            }
            history.removeAll { !keptNames.contains($0.file) }
        }

        try saveHistory(history)
        if !outcome.removed.isEmpty {
            try DurableFile.syncFolder(directory.folder)
        }
        return outcome
    }
}
