import KatechonTraining
import XCTest

final class EpochSamplerTests: XCTestCase {
    func testSplitMix64KnownOutputs() {
        // First three outputs of SplitMix64 from state 0, the usual check values.
        var generator = EpochSampler.SplitMix64(state: 0)
        XCTAssertEqual(generator.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(generator.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(generator.next(), 0x06C4_5D18_8009_454F)
    }

    func testPermutationDependsOnlyOnSeedAndEpoch() throws {
        let first = try EpochSampler(sampleCount: 1000, worldSize: 2, perRankBatch: 4, seed: 42)
        let second = try EpochSampler(sampleCount: 1000, worldSize: 4, perRankBatch: 16, seed: 42)
        let otherSeed = try EpochSampler(sampleCount: 1000, worldSize: 2, perRankBatch: 4, seed: 43)

        let epoch0 = first.permutation(epoch: 0)
        XCTAssertEqual(epoch0.sorted(), Array(0..<1000), "not a permutation")
        XCTAssertEqual(epoch0, first.permutation(epoch: 0))
        XCTAssertEqual(epoch0, second.permutation(epoch: 0))
        XCTAssertNotEqual(epoch0, first.permutation(epoch: 1))
        XCTAssertNotEqual(epoch0, otherSeed.permutation(epoch: 0))
        XCTAssertNotEqual(epoch0, Array(0..<1000))
    }

    func testShuffleIsUniformOverSmallPermutations() throws {
        // 24,000 epochs of 4 samples: each of the 24 orders should appear about 1,000
        // times (standard deviation about 31). An off-by-one in Fisher-Yates (Sattolo's
        // variant) would never produce the identity.
        let sampler = try EpochSampler(sampleCount: 4, worldSize: 1, perRankBatch: 4, seed: 7)
        var counts: [[Int]: Int] = [:]
        for epoch in 0..<24_000 {
            counts[sampler.permutation(epoch: epoch), default: 0] += 1
        }
        XCTAssertEqual(counts.count, 24, "orders seen: \(counts.count)")
        for (order, count) in counts {
            XCTAssertTrue((850...1150).contains(count), "order \(order) appeared \(count) times")
        }
    }

    func testRankShardsTileGlobalBatch() throws {
        let sampler = try EpochSampler(sampleCount: 37, worldSize: 3, perRankBatch: 5, seed: 1)
        XCTAssertEqual(sampler.stepsPerEpoch, 3)
        XCTAssertEqual(sampler.paddedCount, 45)

        let permutation = sampler.permutation(epoch: 2)
        let order = sampler.epochOrder(epoch: 2)
        XCTAssertEqual(Array(order[0..<37]), permutation)
        XCTAssertEqual(Array(order[37...]), Array(permutation[0..<8]), "padding repeats the start")

        var visited: [Int] = []
        for step in 0..<sampler.stepsPerEpoch {
            let global = Array(sampler.globalBatch(in: order, step: step))
            let shards = (0..<3).map { sampler.indices(epoch: 2, step: step, rank: $0) }
            XCTAssertEqual(shards.flatMap { $0 }, global, "step \(step)")
            XCTAssertTrue(shards.allSatisfy { $0.count == 5 }, "step \(step) shard sizes")
            visited += global
        }
        XCTAssertEqual(Set(visited), Set(0..<37), "every sample visited in the epoch")
    }

    func testGlobalBatchSameForAnySplit() throws {
        let splits = [(1, 8), (2, 4), (4, 2)]
        let samplers = try splits.map {
            try EpochSampler(sampleCount: 50, worldSize: $0.0, perRankBatch: $0.1, seed: 99)
        }
        XCTAssertEqual(samplers.map(\.stepsPerEpoch), [7, 7, 7])

        for epoch in 0..<2 {
            for step in 0..<7 {
                let batches = samplers.map { sampler in
                    (0..<sampler.worldSize).flatMap {
                        sampler.indices(epoch: epoch, step: step, rank: $0)
                    }
                }
                XCTAssertEqual(batches[0], batches[1], "1×8 vs 2×4, epoch \(epoch) step \(step)")
                XCTAssertEqual(batches[0], batches[2], "1×8 vs 4×2, epoch \(epoch) step \(step)")
            }
        }
    }

    func testPaddingWhenGlobalBatchExceedsSamples() throws {
        let sampler = try EpochSampler(sampleCount: 3, worldSize: 2, perRankBatch: 4, seed: 5)
        let permutation = sampler.permutation(epoch: 0)

        XCTAssertEqual(sampler.stepsPerEpoch, 1)
        XCTAssertEqual(sampler.epochOrder(epoch: 0), (0..<8).map { permutation[$0 % 3] })
    }

    func testResumeWithOtherWorldSize() throws {
        let before = try EpochSampler(sampleCount: 50, worldSize: 2, perRankBatch: 4, seed: 3)
        let after = try EpochSampler(sampleCount: 50, worldSize: 4, perRankBatch: 2, seed: 3)

        // Nine global steps of 8 samples: epoch 1 (7 steps per epoch), step 2.
        let stopped = before.position(globalStep: 9)
        XCTAssertEqual(stopped, EpochSampler.Position(epoch: 1, step: 2))
        let samplesSeen = before.samplesSeen(at: stopped)
        XCTAssertEqual(samplesSeen, 72)

        let resumed = try after.position(samplesSeen: samplesSeen,
                                         recordedGlobalBatchSize: before.globalBatchSize)
        XCTAssertEqual(resumed, stopped)
        XCTAssertEqual(after.globalStep(at: resumed), 9)

        let beforeBatch = (0..<2).flatMap { before.indices(epoch: 1, step: 2, rank: $0) }
        let afterBatch = (0..<4).flatMap { after.indices(epoch: resumed.epoch, step: resumed.step, rank: $0) }
        XCTAssertEqual(afterBatch, beforeBatch)
    }

    func testResumeRejectsInvalidPositions() throws {
        let sampler = try EpochSampler(sampleCount: 50, worldSize: 2, perRankBatch: 4, seed: 3)

        XCTAssertThrowsError(try sampler.position(samplesSeen: 72, recordedGlobalBatchSize: 16)) {
            XCTAssertEqual($0 as? EpochSamplerError, .globalBatchSizeChanged(recorded: 16, current: 8))
        }
        XCTAssertThrowsError(try sampler.position(samplesSeen: 70, recordedGlobalBatchSize: 8)) {
            XCTAssertEqual($0 as? EpochSamplerError,
                           .positionNotOnStepBoundary(samplesSeen: 70, globalBatchSize: 8))
        }
    }

    func testInvalidConfigurationRejected() {
        XCTAssertThrowsError(try EpochSampler(sampleCount: 0, worldSize: 1, perRankBatch: 1, seed: 0)) {
            XCTAssertEqual($0 as? EpochSamplerError, .noSamples)
        }
        XCTAssertThrowsError(try EpochSampler(sampleCount: 5, worldSize: 0, perRankBatch: 1, seed: 0)) {
            XCTAssertEqual($0 as? EpochSamplerError, .invalidWorldSize(0))
        }
        XCTAssertThrowsError(try EpochSampler(sampleCount: 5, worldSize: 1, perRankBatch: -2, seed: 0)) {
            XCTAssertEqual($0 as? EpochSamplerError, .invalidBatchSize(-2))
        }
    }

    func testEvaluationShardsBalancedAndContiguous() {
        for count in 0...23 {
            for size in 1...5 {
                let shards = (0..<size).map {
                    EpochSampler.evaluationShard(count: count, rank: $0, size: size)
                }
                XCTAssertEqual(shards.first?.lowerBound, 0, "count \(count), size \(size)")
                XCTAssertEqual(shards.last?.upperBound, count, "count \(count), size \(size)")
                for (previous, next) in zip(shards, shards.dropFirst()) {
                    XCTAssertEqual(previous.upperBound, next.lowerBound, "count \(count), size \(size)")
                }
                let lengths = shards.map(\.count)
                XCTAssertLessThanOrEqual(lengths.max()! - lengths.min()!, 1,
                                         "count \(count), size \(size): \(lengths)")
            }
        }
    }
}
