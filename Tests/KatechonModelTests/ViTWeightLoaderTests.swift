import XCTest
import KatechonModel

/// Checks the loader's errors on synthetic weights of a small ViT.
final class ViTWeightLoaderTests: XCTestCase {
    private let config = ViTConfig(imageSize: 32, patchSize: 16, width: 8, depth: 2, heads: 2, mlpHidden: 16,
                                   trainableBlocks: 1)

    /// Builds a complete timm state dict for `config` with random values from a fixed seed.
    private func timmWeights() -> [String: ViTWeightLoader.Weight] {
        let store = ParameterStore()
        _ = VisionTransformer(store: store, config: config, prefix: "")
        var weights: [String: ViTWeightLoader.Weight] = [:]
        for (index, entry) in store.entries.enumerated() {
            weights[entry.name] = ViTWeightLoader.Weight(
                shape: entry.shape, values: GradientCheck.random(entry.count, seed: UInt64(index)))
        }
        return weights
    }

    private func load(_ weights: [String: ViTWeightLoader.Weight]) throws -> [String] {
        let store = ParameterStore()
        let model = VisionTransformer(store: store, config: config, prefix: "image_encoder.")
        store.allocate(seed: 0)
        return try ViTWeightLoader.load(weights, into: model, store: store)
    }

    private func assertThrows(_ expected: ViTWeightError, _ body: () throws -> Void,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? ViTWeightError, expected, "\(error)", file: file, line: line)
        }
    }

    func testCompleteWeightsLoadWithPrefix() throws {
        var weights = timmWeights()
        weights["head.weight"] = ViTWeightLoader.Weight(shape: [3, 8], values: [Float](repeating: 0, count: 24))
        let store = ParameterStore()
        let model = VisionTransformer(store: store, config: config, prefix: "image_encoder.")
        store.allocate(seed: 0)
        let ignored = try ViTWeightLoader.load(weights, into: model, store: store)
        XCTAssertEqual(ignored, ["head.weight"])
        for (name, weight) in weights where name != "head.weight" {
            let id = try XCTUnwrap(store.id(named: "image_encoder." + name))
            XCTAssertEqual(store.values(of: id), weight.values, name)
        }
    }

    func testMissingTensorIsNamed() {
        var weights = timmWeights()
        weights["blocks.1.mlp.fc2.bias"] = nil
        assertThrows(.missingTensor(key: "blocks.1.mlp.fc2.bias", expectedShape: [8])) { _ = try load(weights) }
    }

    func testMisShapedTensorNamesBothShapes() {
        var weights = timmWeights()
        weights["norm.weight"] = ViTWeightLoader.Weight(shape: [7], values: [Float](repeating: 1, count: 7))
        let expected = ViTWeightError.shapeMismatch(key: "norm.weight", expected: [8], found: [7])
        assertThrows(expected) { _ = try load(weights) }
        XCTAssertTrue(expected.description.contains("[7]"), expected.description)
        XCTAssertTrue(expected.description.contains("[8]"), expected.description)
    }

    func testUnknownArchitectureKeyIsRejected() {
        var weights = timmWeights()
        weights["blocks.0.ls1.gamma"] = ViTWeightLoader.Weight(shape: [8], values: [Float](repeating: 1, count: 8))
        assertThrows(.unsupportedKey(key: "blocks.0.ls1.gamma")) { _ = try load(weights) }
    }

    func testHuggingFaceMissingValueIsNamed() {
        let timm = timmWeights()
        var weights: [String: ViTWeightLoader.Weight] = [:]
        for suffix in ["weight", "bias"] {
            let qkv = timm["blocks.0.attn.qkv.\(suffix)"]!
            let third = qkv.values.count / 3
            let shape = [qkv.shape[0] / 3] + qkv.shape.dropFirst()
            weights["vit.encoder.layer.0.attention.attention.query.\(suffix)"] =
                ViTWeightLoader.Weight(shape: shape, values: Array(qkv.values[0..<third]))
            weights["vit.encoder.layer.0.attention.attention.key.\(suffix)"] =
                ViTWeightLoader.Weight(shape: shape, values: Array(qkv.values[third..<(2 * third)]))
        }
        assertThrows(.missingTensor(key: "vit.encoder.layer.0.attention.attention.value.bias", expectedShape: [8])) {
            _ = try ViTWeightLoader.inferConfig(from: weights, imageSize: nil, heads: nil, trainableBlocks: 1)
        }
    }

    func testHeadsThatDoNotDivideWidthAreRejected() {
        // width 8 with the default width / 64 heads gives 0 heads.
        XCTAssertThrowsError(try ViTWeightLoader.inferConfig(from: timmWeights(), imageSize: nil, heads: nil,
                                                             trainableBlocks: 1)) { error in
            XCTAssertTrue("\(error)".contains("--vit-heads"), "\(error)")
        }
        XCTAssertThrowsError(try ViTWeightLoader.inferConfig(from: timmWeights(), imageSize: nil, heads: 3,
                                                             trainableBlocks: 1))
    }

    func testInferredConfigMatchesShapes() throws {
        let inferred = try ViTWeightLoader.inferConfig(from: timmWeights(), imageSize: nil, heads: 2,
                                                       trainableBlocks: 1)
        XCTAssertEqual(inferred, config)
        XCTAssertThrowsError(try ViTWeightLoader.inferConfig(from: timmWeights(), imageSize: 40, heads: 2,
                                                             trainableBlocks: 1), "40 px is not a multiple of 16")
        XCTAssertThrowsError(try ViTWeightLoader.inferConfig(from: timmWeights(), imageSize: nil, heads: 2,
                                                             trainableBlocks: 3), "3 trainable of 2 blocks")
    }

    /// Renames a timm state dict to Hugging Face ViTModel keys under `prefix`, splitting qkv.
    private func huggingFaceWeights(_ timm: [String: ViTWeightLoader.Weight],
                                    prefix: String) -> [String: ViTWeightLoader.Weight] {
        let fixed = [
            "cls_token": "embeddings.cls_token",
            "pos_embed": "embeddings.position_embeddings",
            "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
            "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
            "norm.weight": "layernorm.weight",
            "norm.bias": "layernorm.bias",
        ]
        let layers = ["norm1": "layernorm_before", "attn.proj": "attention.output.dense",
                      "norm2": "layernorm_after", "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"]
        var result: [String: ViTWeightLoader.Weight] = [:]
        for (name, weight) in timm {
            if let renamed = fixed[name] {
                result[prefix + renamed] = weight
                continue
            }
            let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
            let (index, rest) = (parts[1], parts[2])
            let suffix = rest.hasSuffix(".weight") ? "weight" : "bias"
            let layer = String(rest.dropLast(suffix.count + 1))
            let base = "\(prefix)encoder.layer.\(index)."
            if layer == "attn.qkv" {
                let third = weight.values.count / 3
                let shape = [weight.shape[0] / 3] + weight.shape.dropFirst()
                for (k, part) in ["query", "key", "value"].enumerated() {
                    result[base + "attention.attention.\(part).\(suffix)"] = ViTWeightLoader.Weight(
                        shape: shape, values: Array(weight.values[(k * third)..<((k + 1) * third)]))
                }
            } else {
                result[base + "\(layers[layer]!).\(suffix)"] = weight
            }
        }
        return result
    }

    func testHuggingFaceKeysWithAndWithoutPrefixLoad() throws {
        let timm = timmWeights()
        let store = ParameterStore()
        let model = VisionTransformer(store: store, config: config, prefix: "")
        store.allocate(seed: 0)
        _ = try ViTWeightLoader.load(timm, into: model, store: store)

        for prefix in ["vit.", ""] {
            let other = ParameterStore()
            let otherModel = VisionTransformer(store: other, config: config, prefix: "")
            other.allocate(seed: 1)
            let ignored = try ViTWeightLoader.load(huggingFaceWeights(timm, prefix: prefix), into: otherModel,
                                                   store: other)
            XCTAssertEqual(ignored, [], "prefix \(prefix)")
            for entry in store.entries {
                XCTAssertEqual(other.values(of: other.id(named: entry.name)!), store.values(of: store.id(named: entry.name)!),
                               "\(entry.name) from Hugging Face keys with prefix '\(prefix)'")
            }
        }
    }

    func testHuggingFaceShapeErrorNamesFileKey() {
        var weights: [String: ViTWeightLoader.Weight] = [:]
        for (name, weight) in timmWeights() {
            let renamed = name.replacingOccurrences(of: "blocks.1.mlp.fc1.", with: "vit.encoder.layer.1.intermediate.dense.")
            weights[renamed] = weight
        }
        weights["vit.encoder.layer.1.intermediate.dense.bias"] =
            ViTWeightLoader.Weight(shape: [15], values: [Float](repeating: 0, count: 15))
        assertThrows(.shapeMismatch(key: "vit.encoder.layer.1.intermediate.dense.bias", expected: [16], found: [15])) {
            _ = try load(weights)
        }
    }

    func testPositionEmbeddingResamplingKeepsClassTokenAndConstants() {
        // A constant grid stays constant (the cubic weights sum to one) and the class row is copied.
        let width = 2
        var values: [Float] = [7, -7]
        for _ in 0..<9 { values += [0.5, -1.5] }
        let resampled = PositionEmbedding.resample(values, width: width, prefixTokens: 1,
                                                   from: (3, 3), to: (5, 5))
        XCTAssertEqual(resampled.count, (1 + 25) * width)
        XCTAssertEqual(Array(resampled[0..<2]), [7, -7])
        for i in 1..<26 {
            XCTAssertEqual(resampled[2 * i], 0.5, accuracy: 1e-5, "row \(i)")
            XCTAssertEqual(resampled[2 * i + 1], -1.5, accuracy: 1e-5, "row \(i)")
        }
    }
}
