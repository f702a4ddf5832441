/// Order in which an epoch visits the training samples, and each rank's share of every
/// step.
///
/// The epoch order is a permutation of `0..<sampleCount` that depends only on
/// `(seed, epoch)`, so every rank computes the same one without communicating. It is
/// padded to a multiple of the global batch `G = worldSize · perRankBatch` by repeating
/// the permutation from its start. Global step `s` takes positions `[s·G, (s+1)·G)` of the
/// padded order, and rank `r` takes the contiguous part `[r·b, (r+1)·b)` of that slice,
/// where `b = perRankBatch`. Hence the samples of one step depend on `G` and not on how
/// it is split: one rank with batch 8 gets the same 8 samples per step as two ranks with
/// batch 4 together.
///
/// Permutation: a SplitMix64 generator whose initial state is
/// `seed ^ (epoch &* 0xD6E8FEB86659FD93)` (an odd constant that spreads the epoch over
/// all 64 bits) drives a Fisher-Yates shuffle of the identity, from the last position
/// down. Position `i` swaps with `j = next(below: i + 1)`, drawn without modulo bias by
/// Lemire's multiply-and-reject method.
public struct EpochSampler: Sendable, Equatable {
    /// Number of distinct samples; indices run over `0..<sampleCount`.
    public let sampleCount: Int
    /// Number of ranks sharing each step.
    public let worldSize: Int
    /// Samples per rank per step.
    public let perRankBatch: Int
    /// Seed of the epoch permutations.
    public let seed: UInt64

    /// Global position within training: the epoch and the global step inside it.
    public struct Position: Sendable, Equatable, CustomStringConvertible {
        public var epoch: Int
        public var step: Int

        public init(epoch: Int, step: Int) {
            self.epoch = epoch
            self.step = step
        }

        public var description: String { "epoch \(epoch) step \(step)" }
    }

    /// Creates a sampler, rejecting an empty dataset and non-positive sizes.
    public init(sampleCount: Int, worldSize: Int, perRankBatch: Int, seed: UInt64) throws {
        guard sampleCount > 0 else { throw EpochSamplerError.noSamples }
        guard worldSize > 0 else { throw EpochSamplerError.invalidWorldSize(worldSize) }
        guard perRankBatch > 0 else { throw EpochSamplerError.invalidBatchSize(perRankBatch) }
        self.sampleCount = sampleCount
        self.worldSize = worldSize
        self.perRankBatch = perRankBatch
        self.seed = seed
    }

    /// Samples per global step, over all ranks (`G`).
    public var globalBatchSize: Int { worldSize * perRankBatch }

    /// Global steps per epoch: `ceil(sampleCount / G)`.
    public var stepsPerEpoch: Int { (sampleCount + globalBatchSize - 1) / globalBatchSize }

    /// Length of the padded epoch order, a multiple of `G`.
    public var paddedCount: Int { stepsPerEpoch * globalBatchSize }

    // MARK: Epoch order

    /// Computes the permutation of `0..<sampleCount` for `epoch`, identical on every rank.
    public func permutation(epoch: Int) -> [Int] {
        precondition(epoch >= 0, "epoch must not be negative, got \(epoch)")
        var generator = SplitMix64(state: seed ^ (UInt64(epoch) &* 0xD6E8_FEB8_6659_FD93))
        var order = Array(0..<sampleCount)
        var position = sampleCount - 1
        while position > 0 {
            let other = Int(generator.next(below: UInt64(position + 1)))
            order.swapAt(position, other)
            position -= 1
        }
        return order
    }

    /// Computes the permutation for `epoch` padded to `paddedCount` by repeating it from
    /// its start (cyclically, when `G` exceeds `sampleCount`).
    public func epochOrder(epoch: Int) -> [Int] {
        let permutation = permutation(epoch: epoch)
        return (0..<paddedCount).map { permutation[$0 % sampleCount] }
    }

    /// Sample indices of global step `step` over all ranks, from an `epochOrder` result.
    public func globalBatch(in order: [Int], step: Int) -> ArraySlice<Int> {
        precondition(order.count == paddedCount,
                     "epoch order has \(order.count) entries, expected \(paddedCount)")
        precondition((0..<stepsPerEpoch).contains(step),
                     "step \(step) is outside 0..<\(stepsPerEpoch)")
        let start = step * globalBatchSize
        return order[start..<(start + globalBatchSize)]
    }

    /// Sample indices of rank `rank` at global step `step`, from an `epochOrder` result.
    public func indices(in order: [Int], step: Int, rank: Int) -> ArraySlice<Int> {
        precondition((0..<worldSize).contains(rank), "rank \(rank) is outside 0..<\(worldSize)")
        let batch = globalBatch(in: order, step: step)
        let start = batch.startIndex + rank * perRankBatch
        return batch[start..<(start + perRankBatch)]
    }

    /// Sample indices of rank `rank` at step `step` of `epoch`. It recomputes the epoch
    /// order, O(sampleCount); loops over steps should call `epochOrder` once and then
    /// `indices(in:step:rank:)`.
    public func indices(epoch: Int, step: Int, rank: Int) -> [Int] {
        Array(indices(in: epochOrder(epoch: epoch), step: step, rank: rank))
    }

    // MARK: Positions for resuming

    /// Position of the global step counted from the start of training.
    public func position(globalStep: Int) -> Position {
        precondition(globalStep >= 0, "global step must not be negative, got \(globalStep)")
        return Position(epoch: globalStep / stepsPerEpoch, step: globalStep % stepsPerEpoch)
    }

    /// Global steps from the start of training up to `position`.
    public func globalStep(at position: Position) -> Int {
        position.epoch * stepsPerEpoch + position.step
    }

    /// Samples consumed by all ranks before `position`, counting padding repeats.
    public func samplesSeen(at position: Position) -> Int {
        globalStep(at: position) * globalBatchSize
    }

    /// Position at which to resume after `samplesSeen` samples, as recorded by a run with
    /// global batch `recordedGlobalBatchSize`, possibly with another world size and
    /// per-rank batch.
    ///
    /// The global batch must be the same, because the padding of each epoch, and so where
    /// epochs begin, depends on it. Throws when it differs or when `samplesSeen` is not a
    /// whole number of global steps.
    public func position(samplesSeen: Int, recordedGlobalBatchSize: Int) throws -> Position {
        guard recordedGlobalBatchSize == globalBatchSize else {
            throw EpochSamplerError.globalBatchSizeChanged(recorded: recordedGlobalBatchSize,
                                                           current: globalBatchSize)
        }
        guard samplesSeen >= 0, samplesSeen % globalBatchSize == 0 else {
            throw EpochSamplerError.positionNotOnStepBoundary(samplesSeen: samplesSeen,
                                                              globalBatchSize: globalBatchSize)
        }
        return position(globalStep: samplesSeen / globalBatchSize)
    }

    // MARK: Evaluation

    /// Contiguous rows `rank` evaluates out of `count`, balanced so shard lengths differ
    /// by at most one (the first `count % size` ranks take one more row). The shards of
    /// ranks `0..<size` cover `0..<count` in order, so predictions gathered in rank order
    /// are in row order.
    public static func evaluationShard(count: Int, rank: Int, size: Int) -> Range<Int> {
        precondition(count >= 0, "row count must not be negative, got \(count)")
        precondition(size > 0 && (0..<size).contains(rank),
                     "rank \(rank) is outside 0..<\(size)")
        let base = count / size
        let extra = count % size
        let start = rank * base + min(rank, extra)
        let length = base + (rank < extra ? 1 : 0)
        return start..<(start + length)
    }

    // MARK: Generator

    /// SplitMix64 generator: a 64-bit state advanced by the golden-ratio increment
    /// 0x9E3779B97F4A7C15, whose output is the state mixed by two xor-shift-multiply
    /// rounds and a final xor-shift.
    public struct SplitMix64: Sendable {
        public private(set) var state: UInt64

        public init(state: UInt64) {
            self.state = state
        }

        /// Advances the state and returns the next 64-bit output.
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            return mixed ^ (mixed >> 31)
        }

        /// Returns a uniformly distributed value in `0..<bound`: the high word of
        /// `next() · bound`, redrawn while the low word falls below `2^64 mod bound`.
        public mutating func next(below bound: UInt64) -> UInt64 {
            precondition(bound > 0, "bound must be positive")
            var product = next().multipliedFullWidth(by: bound)
            if product.low < bound {
                let threshold = (0 &- bound) % bound
                while product.low < threshold {
                    product = next().multipliedFullWidth(by: bound)
                }
            }
            return product.high
        }
    }
}

/// Invalid sampler configuration or resume position.
public enum EpochSamplerError: Error, Equatable, CustomStringConvertible {
    case noSamples
    case invalidWorldSize(Int)
    case invalidBatchSize(Int)
    case globalBatchSizeChanged(recorded: Int, current: Int)
    case positionNotOnStepBoundary(samplesSeen: Int, globalBatchSize: Int)

    public var description: String {
        switch self {
        case .noSamples:
            return "the training split has no samples; check the metadata file and the fold "
                + "options"
        case .invalidWorldSize(let size):
            return "world size must be at least 1, got \(size)"
        case .invalidBatchSize(let batch):
            return "per-rank batch size must be at least 1, got \(batch); pass a positive "
                + "--batch-size"
        case .globalBatchSizeChanged(let recorded, let current):
            return "the checkpoint was written with global batch \(recorded) (ranks × "
                + "--batch-size), but this run has \(current); resume with a --batch-size "
                + "that gives the same global batch"
        case .positionNotOnStepBoundary(let samplesSeen, let globalBatchSize):
            return "samples seen \(samplesSeen) is not a non-negative multiple of the global "
                + "batch \(globalBatchSize); the checkpoint position is invalid"
        }
    }
}
