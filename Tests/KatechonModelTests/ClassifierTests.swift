import XCTest
import KatechonTensor
import KatechonModel

/// The full classifier with a tiny ViT: batch invariance, freezing, the order of the
/// gradientsReady offsets and loading parameters by name.
final class ClassifierTests: XCTestCase {
    static let imageSize = 32
    static let metadataWidth = 7
    static let pixelsPerSample = 3 * imageSize * imageSize

    private func makeConfig(fusion: FusionMode = .mutual, trainableBlocks: Int = 2,
                            classCount: Int = 1) -> ModelConfig {
        let vit = ViTConfig(imageSize: Self.imageSize, patchSize: 16, width: 32, depth: 3, heads: 2,
                            mlpHidden: 64, trainableBlocks: trainableBlocks)
        return ModelConfig(vit: vit, metadataWidth: Self.metadataWidth, metaTokens: 3, fusionWidth: 16,
                           fusionHeads: 2, metadataHidden: 12, headHidden: 10, classCount: classCount,
                           fusion: fusion, posWeight: classCount == 1 ? 2 : nil)
    }

    /// Replaces the initial parameters (std 0.02) with larger random ones, so that logits
    /// differ clearly between samples and any mixing of samples would show.
    private func randomise(_ model: MultimodalClassifier, seed: UInt64) throws {
        let tensors = model.namedParameters().enumerated().map { index, parameter in
            (name: parameter.name, shape: parameter.shape,
             values: GradientCheck.random(parameter.values.count, seed: seed &+ UInt64(index), scale: 0.3)
                .map { parameter.name.hasSuffix("norm.weight") || parameter.name.contains("norm1.weight")
                    || parameter.name.contains("norm2.weight") || parameter.name.contains(".norm_") && parameter.name.hasSuffix(".weight")
                    ? 1 + $0 : $0 })
        }
        try model.loadParameters(tensors)
    }

    private func slice(_ values: [Float], sample: Int, width: Int) -> [Float] {
        Array(values[(sample * width)..<((sample + 1) * width)])
    }

    func testLogitsIndependentOfBatch() throws {
        for fusion in FusionMode.allCases {
            let classCount = fusion == .concat ? 3 : 1
            let model = try MultimodalClassifier(config: makeConfig(fusion: fusion, classCount: classCount), seed: 5)
            try randomise(model, seed: 100)
            let batch = 8
            let pixels = GradientCheck.random(batch * Self.pixelsPerSample, seed: 1)
            let metadata = GradientCheck.random(batch * Self.metadataWidth, seed: 2, scale: 2)

            let together = model.forward(pixels: pixels, metadata: metadata, batch: batch, training: false).values
            XCTAssertGreaterThan(Set(together).count, 1, "\(fusion): logits do not vary between samples")

            let order = [5, 2, 7, 0, 3, 6, 1, 4]
            let shuffledPixels = order.flatMap { slice(pixels, sample: $0, width: Self.pixelsPerSample) }
            let shuffledMetadata = order.flatMap { slice(metadata, sample: $0, width: Self.metadataWidth) }
            let shuffled = model.forward(pixels: shuffledPixels, metadata: shuffledMetadata, batch: batch,
                                         training: false).values

            var worst: Float = 0
            for sample in 0..<batch {
                let alone = model.forward(pixels: slice(pixels, sample: sample, width: Self.pixelsPerSample),
                                          metadata: slice(metadata, sample: sample, width: Self.metadataWidth),
                                          batch: 1, training: false).values
                let inBatch = slice(together, sample: sample, width: classCount)
                let position = order.firstIndex(of: sample)!
                let inShuffled = slice(shuffled, sample: position, width: classCount)
                for c in 0..<classCount {
                    worst = max(worst, abs(alone[c] - inBatch[c]), abs(alone[c] - inShuffled[c]))
                }
            }
            print("\(fusion): largest logit difference across batchings \(worst) (tolerance 1e-6)")
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(fusion): a sample's logits depend on its batch")
        }
    }

    /// Runs one training step and returns the names of the parameters whose values changed.
    private func changedParameters(_ model: MultimodalClassifier) -> Set<String> {
        let batch = 3
        let pixels = GradientCheck.random(batch * Self.pixelsPerSample, seed: 3)
        let metadata = GradientCheck.random(batch * Self.metadataWidth, seed: 4)
        let before = model.namedParameters()

        model.parameterStore.zeroGradients()
        let logits = model.forward(pixels: pixels, metadata: metadata, batch: batch, training: true)
        let loss = model.loss(logits: logits, labels: [1, 0, 1])
        model.backward(logitGradient: loss.gradient, gradientsReady: nil)
        AdamW(store: model.parameterStore, weightDecay: 0.05).step(learningRate: 1e-2)

        let after = model.namedParameters()
        XCTAssertEqual(before.map(\.name), after.map(\.name))
        return Set(zip(before, after).filter { $0.values != $1.values }.map(\.0.name))
    }

    func testFrozenBackboneKeepsItsParameters() throws {
        // With no trainable block the whole backbone, final norm included, is frozen.
        let model = try MultimodalClassifier(config: makeConfig(trainableBlocks: 0), seed: 6)
        try randomise(model, seed: 200)
        let changed = changedParameters(model)
        let names = model.namedParameters().map(\.name)
        let expected = Set(names.filter { !$0.hasPrefix("image_encoder.") })
        XCTAssertEqual(changed, expected, "changed \(changed.subtracting(expected)), unchanged \(expected.subtracting(changed))")
        XCTAssertEqual(Set(model.trainableParameterNames), expected)
    }

    func testLastBlocksTrainWhenUnfrozen() throws {
        let depth = 3
        for trainable in 1...depth {
            let model = try MultimodalClassifier(config: makeConfig(trainableBlocks: trainable), seed: 7)
            try randomise(model, seed: 300)
            let changed = changedParameters(model)
            let trainingBlocks = (depth - trainable)..<depth
            let expected = Set(model.namedParameters().map(\.name).filter { name in
                if !name.hasPrefix("image_encoder.") || name.hasPrefix("image_encoder.norm.") { return true }
                return trainingBlocks.contains { name.hasPrefix("image_encoder.blocks.\($0).") }
            })
            XCTAssertEqual(changed, expected,
                           "k=\(trainable): changed \(changed.subtracting(expected)), unchanged \(expected.subtracting(changed))")
            XCTAssertEqual(Set(model.trainableParameterNames), expected, "k=\(trainable)")
        }
    }

    /// Every reported offset must increase, end at trainableCount, and cover only
    /// gradients that no later step of backward changes.
    func testGradientsReadyOffsetsAreFinal() throws {
        let cases: [(FusionMode, Int)] = [(.mutual, 2), (.mutual, 0), (.concat, 3), (.image, 1), (.metadata, 0)]
        for (fusion, trainable) in cases {
            let label = "\(fusion) k=\(trainable)"
            let model = try MultimodalClassifier(config: makeConfig(fusion: fusion, trainableBlocks: trainable), seed: 8)
            try randomise(model, seed: 400)
            let store = model.parameterStore
            let batch = 2
            let pixels = GradientCheck.random(batch * Self.pixelsPerSample, seed: 5)
            let metadata = GradientCheck.random(batch * Self.metadataWidth, seed: 6)
            store.zeroGradients()
            let logits = model.forward(pixels: pixels, metadata: metadata, batch: batch, training: true)
            let loss = model.loss(logits: logits, labels: [0, 1])

            var snapshots: [(offset: Int, gradients: [Float])] = []
            model.backward(logitGradient: loss.gradient) { offset in
                snapshots.append((offset, Array(UnsafeBufferPointer(start: store.trainableGradients, count: offset))))
            }
            let offsets = snapshots.map(\.offset)
            print("\(label): offsets \(offsets), trainable count \(store.trainableCount)")
            XCTAssertEqual(offsets, offsets.sorted(), "\(label): offsets not increasing")
            XCTAssertEqual(Set(offsets).count, offsets.count, "\(label): an offset repeats")
            XCTAssertEqual(offsets.last, store.trainableCount, label)
            XCTAssertGreaterThan(offsets.count, 1, label)
            let final = Array(UnsafeBufferPointer(start: store.trainableGradients, count: store.trainableCount))
            for snapshot in snapshots {
                XCTAssertEqual(snapshot.gradients, Array(final[0..<snapshot.offset]),
                               "\(label): gradients below \(snapshot.offset) changed after it was reported")
            }
        }
    }

    /// Finite differences through the whole model, so the image token gradient that the
    /// fusion network hands to the ViT is checked where the ViT consumes it.
    func testFullModelGradientsReachBackbone() throws {
        let model = try MultimodalClassifier(config: makeConfig(trainableBlocks: 1, classCount: 3), seed: 9)
        try randomise(model, seed: 600)
        let store = model.parameterStore
        let batch = 2
        let pixels = GradientCheck.random(batch * Self.pixelsPerSample, seed: 9)
        let metadata = GradientCheck.random(batch * Self.metadataWidth, seed: 10)
        let labels: [Int32] = [2, 0]

        func loss() -> Double {
            let logits = model.forward(pixels: pixels, metadata: metadata, batch: batch, training: false)
            return Double(model.loss(logits: logits, labels: labels).loss)
        }
        store.zeroGradients()
        let logits = model.forward(pixels: pixels, metadata: metadata, batch: batch, training: true)
        model.backward(logitGradient: model.loss(logits: logits, labels: labels).gradient, gradientsReady: nil)

        for name in ["image_encoder.norm.weight", "image_encoder.blocks.2.norm1.bias",
                     "image_encoder.blocks.2.mlp.fc2.bias", "image_proj.bias", "metadata_encoder.fc1.bias"] {
            let id = try XCTUnwrap(store.id(named: name), name)
            GradientCheck.check("full model \(name)", values: store.values(of: id),
                                analytic: try XCTUnwrap(store.gradientValues(of: id), name),
                                set: { store.setValues($0, of: id) }, loss: loss)
        }
    }

    func testModesDeclareOnlyTheirParameters() throws {
        let metadataOnly = try MultimodalClassifier(config: makeConfig(fusion: .metadata), seed: 1)
        XCTAssertNil(metadataOnly.imageEncoder)
        XCTAssertFalse(metadataOnly.namedParameters().contains { $0.name.hasPrefix("image_encoder.") })
        let logits = metadataOnly.forward(pixels: nil, metadata: GradientCheck.random(2 * Self.metadataWidth, seed: 1),
                                          batch: 2, training: false)
        XCTAssertEqual(logits.shape, [2, 1])

        let imageOnly = try MultimodalClassifier(config: makeConfig(fusion: .image), seed: 1)
        let names = imageOnly.namedParameters().map(\.name)
        XCTAssertFalse(names.contains { $0.hasPrefix("metadata_encoder.") || $0.hasPrefix("decoder.") })
        XCTAssertTrue(names.contains("head.fc1.weight"))
        XCTAssertEqual(imageOnly.namedParameters().first { $0.name == "head.fc1.weight" }?.shape, [10, 32])
    }

    func testLoadParametersByName() throws {
        let source = try MultimodalClassifier(config: makeConfig(classCount: 4), seed: 1)
        try randomise(source, seed: 500)
        let target = try MultimodalClassifier(config: makeConfig(classCount: 4), seed: 2)
        try target.loadParameters(source.namedParameters())
        let pixels = GradientCheck.random(2 * Self.pixelsPerSample, seed: 7)
        let metadata = GradientCheck.random(2 * Self.metadataWidth, seed: 8)
        XCTAssertEqual(source.forward(pixels: pixels, metadata: metadata, batch: 2, training: false).values,
                       target.forward(pixels: pixels, metadata: metadata, batch: 2, training: false).values)
        let probabilities = target.probabilities(logits: target.forward(pixels: pixels, metadata: metadata,
                                                                        batch: 2, training: false))
        XCTAssertEqual(probabilities.count, 8)
        XCTAssertEqual(probabilities[0..<4].reduce(0, +), 1, accuracy: 1e-5)

        var wrongShape = source.namedParameters()
        let index = wrongShape.firstIndex { $0.name == "head.fc2.weight" }!
        wrongShape[index] = (name: "head.fc2.weight", shape: [3, 10], values: [Float](repeating: 0, count: 30))
        XCTAssertThrowsError(try target.loadParameters(wrongShape)) { error in
            XCTAssertEqual(error as? ParameterLoadError,
                           .shapeMismatch(name: "head.fc2.weight", expected: [4, 10], found: [3, 10]))
            XCTAssertTrue("\(error)".contains("head.fc2.weight"), "\(error)")
        }

        let missing = source.namedParameters().filter { $0.name != "decoder.image_attn.q.bias" }
        XCTAssertThrowsError(try target.loadParameters(missing)) { error in
            XCTAssertEqual(error as? ParameterLoadError, .missingTensor(name: "decoder.image_attn.q.bias"))
        }
        XCTAssertNoThrow(try target.loadParameters(missing, requireAll: false))

        let extra = source.namedParameters() + [(name: "head.fc3.weight", shape: [1], values: [0])]
        XCTAssertThrowsError(try target.loadParameters(extra)) { error in
            XCTAssertEqual(error as? ParameterLoadError, .unexpectedTensor(name: "head.fc3.weight"))
        }
    }

    func testInvalidConfigIsRejected() {
        var config = makeConfig()
        config.fusionHeads = 3
        XCTAssertThrowsError(try MultimodalClassifier(config: config, seed: 1)) { error in
            XCTAssertEqual((error as? ModelConfigError)?.field, "fusionHeads")
        }
        config = makeConfig()
        config.vit.trainableBlocks = 4
        XCTAssertThrowsError(try MultimodalClassifier(config: config, seed: 1)) { error in
            XCTAssertEqual((error as? ModelConfigError)?.field, "vit.trainableBlocks")
        }
        config = makeConfig(classCount: 3)
        config.posWeight = 2
        XCTAssertThrowsError(try config.validate()) { error in
            XCTAssertEqual((error as? ModelConfigError)?.field, "posWeight")
        }
    }

    func testConfigRoundTripsThroughJSON() throws {
        let config = makeConfig(fusion: .concat, classCount: 5)
        let decoded = try JSONDecoder().decode(ModelConfig.self, from: JSONEncoder().encode(config))
        XCTAssertEqual(decoded, config)
    }
}
