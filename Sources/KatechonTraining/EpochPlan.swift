import Foundation
import KatechonData

/// Decides which training samples each rank trains on at each global step.
///
/// Epoch e uses all training samples, or with `--neg-per-pos` every positive plus a fresh
/// draw of negatives seeded by (seed, e). `EpochSampler` shuffles them with (seed, e) and
/// cuts them into global batches of worldSize × perRankBatch samples, and rank r takes
/// its slice of each. Every rank computes the same plan from the same inputs, so no
/// indices travel between ranks. Each epoch's list is built once and cached, because the
/// batch loader asks for it from several threads at every step.
final class EpochPlan: @unchecked Sendable {
    let trainingIndices: [Int]
    let labels: [Int32]
    let negativesPerPositive: Double?
    let seed: UInt64
    let sampler: EpochSampler
    let samplesPerEpoch: Int

    private let lock = NSLock()
    private var cachedEpoch = -1
    private var cachedSamples: [Int] = []
    private var cachedOrder: [Int] = []

    init(trainingIndices: [Int], labels: [Int32], negativesPerPositive: Double?, seed: UInt64,
         worldSize: Int, perRankBatch: Int) throws {
        self.trainingIndices = trainingIndices
        self.labels = labels
        self.negativesPerPositive = negativesPerPositive
        self.seed = seed
        if let negativesPerPositive {
            samplesPerEpoch = NegativeUndersampler.sample(indices: trainingIndices, labels: labels,
                                                          negativesPerPositive: negativesPerPositive,
                                                          seed: seed, epoch: 0).count
        } else {
            samplesPerEpoch = trainingIndices.count
        }
        sampler = try EpochSampler(sampleCount: samplesPerEpoch, worldSize: worldSize,
                                   perRankBatch: perRankBatch, seed: seed)
    }

    var stepsPerEpoch: Int { sampler.stepsPerEpoch }

    /// Returns the dataset indices of rank `rank`'s batch at global step `step`.
    func indices(step: Int, rank: Int) -> [Int] {
        let epoch = step / stepsPerEpoch
        let (samples, order) = epochSamplesAndOrder(epoch)
        return sampler.indices(in: order, step: step % stepsPerEpoch, rank: rank).map { samples[$0] }
    }

    /// Returns the samples of epoch `epoch` and the sampler's padded order over them.
    func epochSamplesAndOrder(_ epoch: Int) -> ([Int], [Int]) {
        lock.lock()
        defer { lock.unlock() }
        if epoch != cachedEpoch {
            if let negativesPerPositive {
                cachedSamples = NegativeUndersampler.sample(indices: trainingIndices, labels: labels,
                                                            negativesPerPositive: negativesPerPositive,
                                                            seed: seed, epoch: epoch)
            } else {
                cachedSamples = trainingIndices
            }
            cachedOrder = sampler.epochOrder(epoch: epoch)
            cachedEpoch = epoch
        }
        return (cachedSamples, cachedOrder)
    }
}
