import XCTest
import KatechonTensor
import KatechonModel

/// Finite-difference checks of the fusion layers, the losses and the whole fusion
/// network, through `GradientCheck` (relative tolerance 1e-2 in Float32).
final class FusionGradientTests: XCTestCase {
    /// Gives every parameter of `store` random values, so norms and biases are not at
    /// their initial 1 and 0.
    private func randomiseParameters(_ store: ParameterStore, seed: UInt64, scale: Float = 0.5) {
        for index in store.entries.indices {
            let id = store.id(named: store.entries[index].name)!
            var values = GradientCheck.random(store.entries[index].count, seed: seed &+ UInt64(index), scale: scale)
            if store.entries[index].name.contains(".norm_") && store.entries[index].name.hasSuffix(".weight") {
                values = values.map { 1 + $0 }
            }
            store.setValues(values, of: id)
        }
    }

    /// Checks the gradient of every trainable parameter of `store` against `loss`.
    private func checkParameters(_ label: String, _ store: ParameterStore, loss: () -> Double,
                                 file: StaticString = #filePath, line: UInt = #line) {
        for index in store.entries.indices where store.entries[index].trainable {
            let id = store.id(named: store.entries[index].name)!
            GradientCheck.check("\(label) \(store.entries[index].name)", values: store.values(of: id),
                                analytic: store.gradientValues(of: id)!,
                                set: { store.setValues($0, of: id) }, loss: loss, file: file, line: line)
        }
    }

    func testMetadataEncoderGradients() {
        let store = ParameterStore()
        let encoder = MetadataEncoder(store, name: "metadata_encoder", input: 7, hidden: 6, tokens: 3, width: 4)
        store.allocate(seed: 1)
        randomiseParameters(store, seed: 10)
        let batch = 2
        let x = GradientCheck.random(batch * 7, seed: 2, scale: 2)
        let r = GradientCheck.random(batch * 3 * 4, seed: 3)

        func loss() -> Double {
            GradientCheck.weightedSum(encoder.forward(store, metadata: x, batch: batch).output.values, r)
        }
        let activations = encoder.forward(store, metadata: x, batch: batch)
        XCTAssertEqual(activations.output.shape, [batch, 3, 4])
        store.zeroGradients()
        encoder.backward(store, activations: activations, outputGradient: r)
        checkParameters("metadata encoder", store, loss: loss)
    }

    func testCrossAttentionGradients() {
        let store = ParameterStore()
        let width = 6
        let layer = CrossAttention(store, name: "attn", width: width, heads: 2)
        store.allocate(seed: 1)
        randomiseParameters(store, seed: 20)
        let (batch, nq, nk) = (2, 3, 4)
        let queries = Tensor(shape: [batch, nq, width], values: GradientCheck.random(batch * nq * width, seed: 4, scale: 2))
        let keysValues = Tensor(shape: [batch, nk, width], values: GradientCheck.random(batch * nk * width, seed: 5, scale: 2))
        let r = GradientCheck.random(batch * nq * width, seed: 6)

        func loss() -> Double {
            GradientCheck.weightedSum(layer.forward(store, queries: queries, keysValues: keysValues).output.values, r)
        }
        let activations = layer.forward(store, queries: queries, keysValues: keysValues)
        store.zeroGradients()
        let gradients = layer.backward(store, activations: activations, outputGradient: r)

        GradientCheck.check("cross attention dx_q", values: queries.values, analytic: gradients.queryGradient.values,
                            set: { _ = queries.buffer.update(fromContentsOf: $0) }, loss: loss)
        GradientCheck.check("cross attention dx_kv", values: keysValues.values,
                            analytic: gradients.keyValueGradient.values,
                            set: { _ = keysValues.buffer.update(fromContentsOf: $0) }, loss: loss)
        checkParameters("cross attention", store, loss: loss)
    }

    func testDecoderGradients() {
        let store = ParameterStore()
        let width = 4
        let decoder = MutualAttentionDecoder(store, name: "decoder", width: width, heads: 2)
        store.allocate(seed: 1)
        randomiseParameters(store, seed: 30)
        let (batch, n, t) = (2, 5, 3)
        let image = Tensor(shape: [batch, n, width], values: GradientCheck.random(batch * n * width, seed: 7, scale: 2))
        let metadata = Tensor(shape: [batch, t, width], values: GradientCheck.random(batch * t * width, seed: 8, scale: 2))
        let r = GradientCheck.random(batch * 4 * width, seed: 9)

        func loss() -> Double {
            GradientCheck.weightedSum(decoder.forward(store, imageTokens: image, metadataTokens: metadata).output.values, r)
        }
        let activations = decoder.forward(store, imageTokens: image, metadataTokens: metadata)
        XCTAssertEqual(activations.output.shape, [batch, 4 * width])
        store.zeroGradients()
        let gradients = decoder.backward(store, activations: activations, outputGradient: r)

        GradientCheck.check("decoder dI", values: image.values, analytic: gradients.imageGradient.values,
                            set: { _ = image.buffer.update(fromContentsOf: $0) }, loss: loss)
        GradientCheck.check("decoder dM", values: metadata.values, analytic: gradients.metadataGradient.values,
                            set: { _ = metadata.buffer.update(fromContentsOf: $0) }, loss: loss)
        checkParameters("decoder", store, loss: loss)
    }

    func testBinaryLossGradientWithPosWeight() {
        let loss = ClassificationLoss(classCount: 1, positiveWeight: 2.5)
        let logits = Tensor(shape: [4, 1], values: [-3, 0.5, 40, -40])
        let labels: [Int32] = [1, 0, 1, 0]
        let result = loss.loss(logits: logits, labels: labels)

        // −mean(p·y·log σ(z) + (1 − y)·log(1 − σ(z))), written out in Double
        func reference(_ z: [Float]) -> Double {
            var total = 0.0
            for (zi, y) in zip(z, labels) {
                let s = 1 / (1 + exp(-Double(zi)))
                total += y == 1 ? -2.5 * log(s) : -log(1 - s)
            }
            return total / 4
        }
        XCTAssertEqual(Double(result.loss), reference([-3, 0.5, 40, -40]), accuracy: 1e-6)
        XCTAssertTrue(result.loss.isFinite)
        GradientCheck.check("bce dz", values: [-3, 0.5, 1.2, -0.7], analytic: loss.loss(
                                logits: Tensor(shape: [4, 1], values: [-3, 0.5, 1.2, -0.7]), labels: labels).gradient.values,
                            set: { _ = logits.buffer.update(fromContentsOf: $0) },
                            loss: { Double(loss.loss(logits: logits, labels: labels).loss) })
        XCTAssertEqual(loss.probabilities(logits: Tensor(shape: [2, 1], values: [0, 100])), [0.5, 1])
    }

    func testCrossEntropyGradientWithLabelSmoothing() {
        let loss = ClassificationLoss(classCount: 3, labelSmoothing: 0.1)
        let values: [Float] = [1, -2, 0.5, 0.3, 0.3, 2, -1, 4, 0]
        let logits = Tensor(shape: [3, 3], values: values)
        let labels: [Int32] = [0, 2, 1]
        let result = loss.loss(logits: logits, labels: labels)

        // PyTorch's cross_entropy(label_smoothing=0.1), written out in Double
        var expected = 0.0
        for b in 0..<3 {
            let row = values[(3 * b)..<(3 * b + 3)].map(Double.init)
            let logSum = log(row.map(exp).reduce(0, +))
            for c in 0..<3 {
                let target = (c == Int(labels[b]) ? 0.9 : 0) + 0.1 / 3
                expected -= target * (row[c] - logSum)
            }
        }
        XCTAssertEqual(Double(result.loss), expected / 3, accuracy: 1e-6)
        GradientCheck.check("cross entropy dz", values: values, analytic: result.gradient.values,
                            set: { _ = logits.buffer.update(fromContentsOf: $0) },
                            loss: { Double(loss.loss(logits: logits, labels: labels).loss) })
        let probabilities = loss.probabilities(logits: Tensor(shape: [3, 3], values: values))
        XCTAssertEqual(probabilities[0..<3].reduce(0, +), 1, accuracy: 1e-6)
    }

    /// The whole fusion network from image tokens to the loss, in every fusion mode.
    func testFusionNetworkGradientsInEveryMode() throws {
        for mode in FusionMode.allCases {
            for classes in [1, 3] {
                try checkFusionNetwork(mode: mode, classes: classes)
            }
        }
    }

    private func checkFusionNetwork(mode: FusionMode, classes: Int) throws {
        let vit = ViTConfig(imageSize: 32, patchSize: 16, width: 6, depth: 1, heads: 2, mlpHidden: 12,
                            trainableBlocks: 0)
        let config = ModelConfig(vit: vit, metadataWidth: 5, metaTokens: 2, fusionWidth: 4, fusionHeads: 2,
                                 metadataHidden: 6, headHidden: 5, classCount: classes, fusion: mode,
                                 posWeight: classes == 1 ? 1.5 : nil, labelSmoothing: classes == 1 ? 0 : 0.1)
        try config.validate()
        let store = ParameterStore()
        let network = FusionNetwork(store: store, config: config, imageWidth: 6)
        store.allocate(seed: 3)
        randomiseParameters(store, seed: 40)
        let (batch, n) = (2, 3)
        let image = Tensor(shape: [batch, n, 6], values: GradientCheck.random(batch * n * 6, seed: 11, scale: 2))
        let metadata = GradientCheck.random(batch * 5, seed: 12, scale: 2)
        let labels: [Int32] = classes == 1 ? [1, 0] : [2, 0]
        let lossFunction = ClassificationLoss(classCount: classes, positiveWeight: config.posWeight,
                                              labelSmoothing: config.labelSmoothing)
        let label = "\(mode) C=\(classes)"

        func loss() -> Double {
            let logits = network.forward(imageTokens: mode.usesImage ? image : nil, metadata: metadata, batch: batch)
            return Double(lossFunction.loss(logits: logits, labels: labels).loss)
        }
        let logits = network.forward(imageTokens: mode.usesImage ? image : nil, metadata: metadata, batch: batch)
        XCTAssertEqual(logits.shape, [batch, classes], label)
        store.zeroGradients()
        var offsets: [Int] = []
        let dImage = network.backward(logitGradient: lossFunction.loss(logits: logits, labels: labels).gradient,
                                      gradientsReady: { offsets.append($0) })
        XCTAssertEqual(offsets, offsets.sorted(), "\(label): offsets \(offsets) are not increasing")
        XCTAssertEqual(offsets.last, store.trainableCount, "\(label): offsets \(offsets)")
        XCTAssertEqual(Set(offsets).count, offsets.count, "\(label): offsets \(offsets) repeat")

        if mode.usesImage {
            let dImage = try XCTUnwrap(dImage, label)
            XCTAssertEqual(dImage.shape, image.shape, label)
            GradientCheck.check("\(label) dX_img", values: image.values, analytic: dImage.values,
                                set: { _ = image.buffer.update(fromContentsOf: $0) }, loss: loss)
        } else {
            XCTAssertNil(dImage, label)
        }
        checkParameters(label, store, loss: loss)

        let names = store.entries.map(\.name)
        XCTAssertEqual(names.contains { $0.hasPrefix("metadata_encoder.") }, mode.usesMetadata, label)
        XCTAssertEqual(names.contains { $0.hasPrefix("decoder.") }, mode == .mutual, label)
        XCTAssertEqual(names.contains { $0.hasPrefix("image_proj.") }, mode == .mutual || mode == .concat, label)
    }
}
