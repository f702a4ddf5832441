import Foundation
import KatechonData

/// The batches of one rank for a range of training steps, decoded ahead of time on
/// worker threads so that the trainer does not wait on JPEG decoding.
final class BatchStream {
    private let loader: BackgroundLoader<Batch>
    private let firstStep: Int

    init(dataset: LesionDataset, plan: EpochPlan, rank: Int, firstStep: Int, lastStep: Int,
         imageSize: Int, augment: Bool, seed: UInt64, workers: Int = 2, capacity: Int = 4) {
        self.firstStep = firstStep
        loader = BackgroundLoader(jobCount: max(0, lastStep - firstStep), workers: workers, capacity: capacity) { job in
            let step = firstStep + job
            let epoch = step / plan.stepsPerEpoch
            let indices = plan.indices(step: step, rank: rank)
            return try dataset.batch(indices: indices, imageSize: imageSize, augment: augment,
                                     epoch: epoch, seed: seed)
        }
    }

    /// Returns the next step's batch, or rethrows a decoding error naming its `isic_id`.
    func next() throws -> Batch {
        guard let batch = try loader.next() else {
            preconditionFailure("batch stream exhausted: the trainer asked for more steps than planned")
        }
        return batch
    }

    func stop() {
        loader.cancel()
    }
}
