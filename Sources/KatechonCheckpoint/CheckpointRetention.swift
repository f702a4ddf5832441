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

    func loadHistory() -> [Entry] {
        // NOTE: an unreadable history is treated as empty. It only decides which metric is
        // best, and a save must not fail because of it; the newest checkpoints are kept.
        guard let data = try? Data(contentsOf: directory.historyFile),
              let entries = try? Self.decoder.decode([Entry].self, from: data) else {
            return []
        }
        return entries
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

    /// Records `saved` in the history and, with `keep` set, deletes the checkpoints that the
    /// policy does not keep; returns the deleted files.
    func record(step: Int, file: URL, metric: ValidationMetric?, keep: Int?) throws -> [URL] {
        let onDisk = try directory.checkpointFiles()
        let names = Set(onDisk.map { $0.url.lastPathComponent })

        var history = loadHistory().filter { names.contains($0.file) && $0.file != file.lastPathComponent }
        history.append(Entry(file: file.lastPathComponent, step: step, metric: metric))
        history.sort { $0.step < $1.step }

        var removed: [URL] = []
        if let keep {
            var kept = Set(onDisk.suffix(keep).map { $0.url.lastPathComponent })
            kept.insert(file.lastPathComponent)
            if let best = Self.best(of: history) {
                kept.insert(best.file)
            }
            if let latest = try? directory.latestCheckpoint() {
                kept.insert(latest.lastPathComponent)
            }
            for checkpoint in onDisk where !kept.contains(checkpoint.url.lastPathComponent) {
                if unlink(checkpoint.url.path) != 0 && errno != ENOENT {
                    throw CheckpointError.ioFailed(file: checkpoint.url,
                                                   operation: "delete old checkpoint", code: errno)
                }
                removed.append(checkpoint.url)
            }
            history.removeAll { !kept.contains($0.file) }
        }

        try saveHistory(history)
        if !removed.isEmpty {
            try DurableFile.syncFolder(directory.folder)
        }
        return removed
    }
}
