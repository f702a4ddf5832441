import Foundation

/// Saves checkpoints on a background thread so that training continues while a snapshot
/// is compressed and written.
///
/// At most one save is in flight. `save` blocks until the previous save has finished, so a
/// caller that saves more often than the disk keeps up waits instead of queueing snapshots
/// in memory. A failed background save is thrown by the next call to `save` or
/// `waitUntilIdle`, once. Call `waitUntilIdle` at the end of training and before exit.
///
/// Use one instance from one thread.
public final class AsyncCheckpointWriter {
    private let writer: CheckpointWriter
    private let queue = DispatchQueue(label: "katechon.checkpoint-writer")
    private let inFlight = DispatchGroup()
    private let lock = NSLock()
    private var pendingError: Error?
    private var lastSaved: CheckpointWriter.SavedCheckpoint?

    public init(writer: CheckpointWriter) {
        self.writer = writer
    }

    /// The most recent save that finished without error.
    public var lastCompletedSave: CheckpointWriter.SavedCheckpoint? {
        lock.lock()
        defer { lock.unlock() }
        return lastSaved
    }

    /// Starts saving a snapshot and returns; see `CheckpointWriter.save`.
    ///
    /// `manifest` and `tensors` must be copies that the caller no longer changes. Blocks
    /// while an earlier save is in flight, then throws that save's error if it failed; in
    /// that case the new snapshot is not saved.
    public func save(step: Int, manifest: Data, tensors: [NamedTensor],
                     metric: ValidationMetric? = nil) throws {
        try waitUntilIdle()

        inFlight.enter()
        queue.async { [writer] in
            do {
                let saved = try writer.save(step: step, manifest: manifest, tensors: tensors,
                                            metric: metric)
                self.finish(saved: saved, error: nil)
            } catch {
                self.finish(saved: nil, error: error)
            }
        }
    }

    /// Blocks until no save is in flight, then throws the error of a failed save, if any.
    public func waitUntilIdle() throws {
        inFlight.wait()
        lock.lock()
        let error = pendingError
        pendingError = nil
        lock.unlock()
        if let error {
            throw error
        }
    }

    private func finish(saved: CheckpointWriter.SavedCheckpoint?, error: Error?) {
        lock.lock()
        if let saved {
            lastSaved = saved
        }
        if let error {
            pendingError = error
        }
        lock.unlock()
        inFlight.leave()
    }
}
