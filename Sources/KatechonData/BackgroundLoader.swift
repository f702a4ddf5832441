import Foundation

/// Loads a known sequence of jobs (typically batches) on worker threads ahead of the
/// consumer, holding at most `capacity` finished or in-flight jobs, and hands them out
/// in order.
///
/// The first failure is rethrown by `next()` when the consumer reaches that job, and
/// the workers stop starting new jobs. Dropping the loader or calling `cancel()` stops
/// the workers after their current job.
public final class BackgroundLoader<Element>: @unchecked Sendable {
    private final class State: @unchecked Sendable {
        let condition = NSCondition()
        var nextToStart = 0
        var nextToHand = 0
        var results: [Int: Result<Element, Error>] = [:]
        var stopped = false
    }

    private let state = State()
    public let jobCount: Int

    /// Starts `workers` threads that call `load(job)` for jobs `0 ..< jobCount`, at most
    /// `capacity` jobs ahead of the consumer.
    public init(jobCount: Int, workers: Int, capacity: Int, load: @escaping @Sendable (Int) throws -> Element) {
        precondition(workers >= 1 && capacity >= 1, "need at least one worker and a capacity of at least one")
        self.jobCount = jobCount
        let state = self.state
        for w in 0..<workers {
            let thread = Thread {
                BackgroundLoader.work(state: state, jobCount: jobCount, capacity: capacity, load: load)
            }
            thread.name = "katechon-loader-\(w)"
            thread.start()
        }
    }

    /// Starts workers that build `dataset` batches of the given sample index lists.
    public convenience init(dataset: LesionDataset, batches: [[Int]], imageSize: Int, augment: Bool,
                            epoch: Int, seed: UInt64, workers: Int = 2, capacity: Int = 4) where Element == Batch {
        self.init(jobCount: batches.count, workers: workers, capacity: capacity) { job in
            try dataset.batch(indices: batches[job], imageSize: imageSize, augment: augment, epoch: epoch, seed: seed)
        }
    }

    deinit {
        cancel()
    }

    /// Returns the next job's result in order, `nil` after the last one, or rethrows the
    /// error of the job.
    public func next() throws -> Element? {
        state.condition.lock()
        defer { state.condition.unlock() }
        let job = state.nextToHand
        guard job < jobCount else { return nil }
        while state.results[job] == nil {
            state.condition.wait()
        }
        let result = state.results.removeValue(forKey: job)!
        state.nextToHand += 1
        state.condition.broadcast()
        switch result {
        case let .success(element):
            return element
        case let .failure(error):
            state.stopped = true
            state.nextToHand = jobCount
            throw error
        }
    }

    /// Stops the workers after their current job; later `next()` calls return `nil`.
    public func cancel() {
        state.condition.lock()
        state.stopped = true
        state.nextToHand = jobCount
        state.results.removeAll()
        state.condition.broadcast()
        state.condition.unlock()
    }

    private static func work(state: State, jobCount: Int, capacity: Int, load: (Int) throws -> Element) {
        state.condition.lock()
        defer { state.condition.unlock() }
        while true {
            while !state.stopped && state.nextToStart < jobCount && state.nextToStart >= state.nextToHand + capacity {
                state.condition.wait()
            }
            guard !state.stopped && state.nextToStart < jobCount else { return }
            let job = state.nextToStart
            state.nextToStart += 1
            state.condition.unlock()

            let result = Result { try load(job) }

            state.condition.lock()
            if state.stopped { return }
            if case .failure = result {
                // Jobs after a failure are never handed out, so stop starting them.
                state.nextToStart = jobCount
            }
            state.results[job] = result
            state.condition.broadcast()
        }
    }
}
