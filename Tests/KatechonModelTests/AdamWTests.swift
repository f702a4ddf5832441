import XCTest
import KatechonTensor
import KatechonModel

/// AdamW details the PyTorch fixture does not reach, the learning-rate schedule and
/// gradient clipping, against values written out by hand.
final class AdamWTests: XCTestCase {
    func testWeightDecaySkipsBiasesNormsAndEmbeddings() {
        XCTAssertTrue(AdamW.appliesWeightDecay(name: "head.fc1.weight", shape: [10, 4]))
        XCTAssertTrue(AdamW.appliesWeightDecay(name: "image_encoder.patch_embed.proj.weight", shape: [8, 3, 16, 16]))
        XCTAssertFalse(AdamW.appliesWeightDecay(name: "head.fc1.bias", shape: [10]))
        XCTAssertFalse(AdamW.appliesWeightDecay(name: "image_encoder.norm.weight", shape: [10]))
        XCTAssertFalse(AdamW.appliesWeightDecay(name: "image_encoder.cls_token", shape: [1, 1, 8]))
        XCTAssertFalse(AdamW.appliesWeightDecay(name: "image_encoder.pos_embed", shape: [1, 5, 8]))
    }

    /// One parameter of each kind, two steps, against the update written out in Double.
    func testStepsMatchHandWrittenUpdate() throws {
        let store = ParameterStore()
        let weight = store.declare("layer.weight", [2, 2], trainable: true, initializer: .zeros)
        let bias = store.declare("layer.bias", [2], trainable: true, initializer: .zeros)
        let frozen = store.declare("frozen.weight", [2, 2], trainable: false, initializer: .ones)
        store.allocate(seed: 0)
        store.setValues([0.5, -1, 2, 0.25], of: weight)
        store.setValues([0.1, -0.2], of: bias)
        let optimizer = AdamW(store: store, weightDecay: 0.1)
        let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8)

        var expectedWeight = [0.5, -1, 2, 0.25]
        var expectedBias = [0.1, -0.2]
        var m = [Double](repeating: 0, count: 6)
        var v = [Double](repeating: 0, count: 6)
        let gradients: [[Float]] = [[0.3, -0.1, 0.02, 1.5, -0.4, 0.05], [0.1, 0.2, -0.3, 0.4, 0.5, -0.6]]
        for (t, g) in gradients.enumerated() {
            store.gradient(weight)!.update(from: g, count: 4)
            store.gradient(bias)!.update(from: Array(g[4...]), count: 2)
            optimizer.step(learningRate: Float(lr))

            let step = Double(t + 1)
            for i in 0..<6 {
                m[i] = b1 * m[i] + (1 - b1) * Double(g[i])
                v[i] = b2 * v[i] + (1 - b2) * Double(g[i]) * Double(g[i])
                let update = lr / (1 - pow(b1, step)) * m[i] / (v[i].squareRoot() / (1 - pow(b2, step)).squareRoot() + eps)
                if i < 4 {
                    expectedWeight[i] = expectedWeight[i] * (1 - lr * 0.1) - update
                } else {
                    expectedBias[i - 4] -= update
                }
            }
        }
        for (actual, expected) in zip(store.values(of: weight), expectedWeight) {
            XCTAssertEqual(Double(actual), expected, accuracy: 1e-6, "weight")
        }
        for (actual, expected) in zip(store.values(of: bias), expectedBias) {
            XCTAssertEqual(Double(actual), expected, accuracy: 1e-6, "bias")
        }
        XCTAssertEqual(store.values(of: frozen), [1, 1, 1, 1])
        XCTAssertEqual(optimizer.stepCount, 2)
    }

    func testStateRestoresIntoNewOptimizer() throws {
        let store = ParameterStore()
        let weight = store.declare("w", [3, 2], trainable: true, initializer: .uniform(bound: 1))
        store.allocate(seed: 4)
        let first = AdamW(store: store)
        store.gradient(weight)!.update(from: [0.1, 0.2, 0.3, -0.4, 0.5, -0.6], count: 6)
        first.step(learningRate: 1e-3)

        let copy = AdamW(store: store)
        let moments = first.moments
        try copy.restore(stepCount: first.stepCount, first: moments.first, second: moments.second)
        let before = store.values(of: weight)
        first.step(learningRate: 1e-3)
        let afterFirst = store.values(of: weight)
        store.setValues(before, of: weight)
        copy.step(learningRate: 1e-3)
        XCTAssertEqual(store.values(of: weight), afterFirst)

        XCTAssertThrowsError(try copy.restore(stepCount: 1, first: [0], second: [0])) { error in
            XCTAssertEqual((error as? AdamWStateError)?.first, 1)
            XCTAssertTrue("\(error)".contains("6 trainable values"), "\(error)")
        }
    }

    func testScheduleWarmsUpThenDecaysToFloor() {
        let schedule = LearningRateSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(schedule.floor, 1e-5, accuracy: 1e-12)
        XCTAssertEqual(schedule.learningRate(at: 0), 1e-4, accuracy: 1e-10)
        XCTAssertEqual(schedule.learningRate(at: 9), 1e-3, accuracy: 1e-10)
        XCTAssertEqual(schedule.learningRate(at: 10), 1e-3, accuracy: 1e-10)
        // Halfway through the decay the cosine term is ½.
        XCTAssertEqual(schedule.learningRate(at: 60), 1e-5 + (1e-3 - 1e-5) * 0.5, accuracy: 1e-9)
        XCTAssertEqual(schedule.learningRate(at: 110), 1e-5, accuracy: 1e-10)
        XCTAssertEqual(schedule.learningRate(at: 500), 1e-5, accuracy: 1e-10)
        let noWarmup = LearningRateSchedule(peak: 2, warmupSteps: 0, totalSteps: 4, floor: 0)
        XCTAssertEqual(noWarmup.learningRate(at: 0), 2, accuracy: 1e-6)
        XCTAssertEqual(noWarmup.learningRate(at: 2), 1, accuracy: 1e-6)
    }

    func testClippingScalesToMaxNorm() {
        var gradients: [Float] = [3, 4, 0, 0]
        let norm = GradientClipping.clipGlobalNorm(&gradients, count: 4, maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        XCTAssertEqual(gradients[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(gradients[1], 0.8, accuracy: 1e-6)

        var small: [Float] = [0.3, 0.4]
        XCTAssertEqual(GradientClipping.clipGlobalNorm(&small, count: 2, maxNorm: 1), 0.5, accuracy: 1e-6)
        XCTAssertEqual(small, [0.3, 0.4], "a norm below the limit leaves gradients unchanged")
    }
}
