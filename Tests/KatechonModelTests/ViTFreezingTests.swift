import XCTest
import KatechonTensor
import KatechonModel

/// Checks which ViT parameters train, which activations are kept and when backward
/// reports gradients as ready.
final class ViTFreezingTests: XCTestCase {
    private let batch = 2

    private func makeModel(trainableBlocks: Int) -> (VisionTransformer, ParameterStore) {
        let config = ViTConfig(imageSize: 32, patchSize: 16, width: 8, depth: 4, heads: 2, mlpHidden: 16,
                               trainableBlocks: trainableBlocks)
        let store = ParameterStore()
        let model = VisionTransformer(store: store, config: config, prefix: "image_encoder.")
        store.allocate(seed: 3)
        return (model, store)
    }

    private func pixels(_ config: ViTConfig) -> [Float] {
        GradientCheck.random(batch * 3 * config.imageSize * config.imageSize, seed: 5, scale: 2)
    }

    func testOnlyLastBlocksAndNormTrain() {
        let (model, store) = makeModel(trainableBlocks: 2)
        for entry in store.entries {
            let id = store.id(named: entry.name)!
            let name = entry.name.replacingOccurrences(of: "image_encoder.", with: "")
            let shouldTrain = name.hasPrefix("blocks.2.") || name.hasPrefix("blocks.3.") || name.hasPrefix("norm.")
            XCTAssertEqual(store.isTrainable(id), shouldTrain, "\(entry.name) trainable")
            XCTAssertEqual(store.gradient(id) != nil, shouldTrain, "\(entry.name) has a gradient")
        }
        XCTAssertEqual(model.config.firstTrainableBlock, 2)
    }

    func testFrozenBlocksKeepNoActivations() {
        let probe = makeModel(trainableBlocks: 0).0.config
        let rows = batch * probe.tokenCount
        let blockFloats = Block.Cache(batch: batch, tokens: probe.tokenCount, width: probe.width,
                                      heads: probe.heads, hiddenWidth: probe.mlpHidden).floatCount
        let normFloats = rows * probe.width + 2 * rows

        for trainable in 0...probe.depth {
            let (model, _) = makeModel(trainableBlocks: trainable)
            let input = pixels(model.config)
            let tokens = model.forwardFeatures(pixels: input, batch: batch, training: true)
            // The final norm keeps its input only when it trains, that is with k > 0.
            XCTAssertEqual(model.cachedActivationFloatCount, trainable * blockFloats + (trainable > 0 ? normFloats : 0),
                           "activation floats kept with \(trainable) trainable blocks")
            var reports = 0
            model.backwardFeatures(tokens) { _ in reports += 1 }
            XCTAssertEqual(reports, trainable > 0 ? 1 + trainable : 0, "gradient reports with \(trainable) trainable blocks")

            _ = model.forwardFeatures(pixels: input, batch: batch, training: false)
            XCTAssertEqual(model.cachedActivationFloatCount, 0, "inference forward keeps activations")
        }
    }

    func testBackwardReportsCompleteGradientsInOrder() {
        let (model, store) = makeModel(trainableBlocks: 2)
        let input = pixels(model.config)
        let tokens = model.forwardFeatures(pixels: input, batch: batch, training: true)
        let r = Tensor(shape: tokens.shape, values: GradientCheck.random(tokens.count, seed: 7))
        store.zeroGradients()

        var reports: [(offset: Int, snapshot: [Float])] = []
        model.backwardFeatures(r) { offset in
            reports.append((offset, Array(UnsafeBufferPointer(start: store.trainableGradients, count: offset))))
        }
        XCTAssertEqual(model.cachedActivationFloatCount, 0, "backward releases the activations")

        let expectedOffsets = [
            store.gradientEnd(model.norm.weight),
            store.gradientEnd(model.blocks[3].norm1.weight),
            store.gradientEnd(model.blocks[2].norm1.weight),
        ]
        XCTAssertEqual(reports.map(\.offset), expectedOffsets, "one report after the norm and each trainable block")
        XCTAssertEqual(reports.last?.offset, store.trainableCount, "the last report covers every gradient")

        // A reported prefix must already hold its final values: later layers never write below it.
        let final = Array(UnsafeBufferPointer(start: store.trainableGradients, count: store.trainableCount))
        for report in reports {
            XCTAssertEqual(report.snapshot, Array(final[0..<report.offset]),
                           "gradients below offset \(report.offset) changed after they were reported")
        }

        for entry in store.entries where entry.trainable {
            let gradient = store.gradientValues(of: store.id(named: entry.name)!)!
            XCTAssertTrue(gradient.contains { $0 != 0 }, "\(entry.name) received no gradient")
        }
    }
}
