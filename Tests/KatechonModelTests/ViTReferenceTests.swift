import Foundation
import XCTest
import KatechonCheckpoint
import KatechonTensor
import KatechonModel

/// Compares the encoder with timm on the fixtures of scripts/reference/make_vit_fixture.py:
/// tokens within 1e-4 absolute (they are of order 1 after the final norm) and gradients
/// of L = Σ tokens ⊙ R within 1e-3 of the largest reference value of each tensor. The
/// tiny case stores its gradients in F16, whose rounding (up to 4.9e-4 relative) takes
/// most of that budget.
final class ViTReferenceTests: XCTestCase {
    static let tokenTolerance: Float = 1e-4
    static let gradientTolerance: Float = 1e-3
    static let prefix = "image_encoder."

    private func fixture(_ name: String) throws -> Safetensors.Contents {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"),
                                "fixture \(name) not found; run scripts/reference/make_vit_fixture.py")
        return try Safetensors.read(url)
    }

    private func weights(_ name: String) throws -> [String: ViTWeightLoader.Weight] {
        var result: [String: ViTWeightLoader.Weight] = [:]
        for tensor in try fixture(name).tensors {
            result[tensor.name] = ViTWeightLoader.Weight(shape: tensor.shape, values: tensor.values)
        }
        return result
    }

    private struct Run {
        var model: VisionTransformer
        var store: ParameterStore
        var tokens: [Float]
        var ignored: [String]
    }

    /// Loads `weightsName` for the case `caseName` and runs forward and backward on its input.
    private func run(case caseName: String, weightsName: String? = nil, heads: Int?) throws -> (Run, [String: NamedTensor]) {
        let contents = try fixture(caseName)
        let tensors = Dictionary(uniqueKeysWithValues: contents.tensors.map { ($0.name, $0) })
        let metadata = contents.metadata
        let imageSize = try XCTUnwrap(Int(metadata["image_size"] ?? ""))
        let trainable = try XCTUnwrap(Int(metadata["trainable_blocks"] ?? ""))
        let source = try weights(weightsName ?? XCTUnwrap(metadata["weights"]))

        let config = try ViTWeightLoader.inferConfig(from: source, imageSize: imageSize, heads: heads,
                                                     trainableBlocks: trainable)
        let store = ParameterStore()
        let model = VisionTransformer(store: store, config: config, prefix: Self.prefix)
        store.allocate(seed: 0)
        let ignored = try ViTWeightLoader.load(source, into: model, store: store)

        let pixels = try XCTUnwrap(tensors["pixels"])
        let batch = pixels.shape[0]
        let tokens = model.forwardFeatures(pixels: pixels.values, batch: batch, training: true)
        let r = try XCTUnwrap(tensors["r"])
        store.zeroGradients()
        model.backwardFeatures(Tensor(shape: r.shape, values: r.values), gradientsReady: nil)
        return (Run(model: model, store: store, tokens: tokens.values, ignored: ignored), tensors)
    }

    private func compareWithTimm(case caseName: String, heads: Int?, expectedGradients: Int,
                                 file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let (run, reference) = try run(case: caseName, heads: heads)
        let expected = try XCTUnwrap(reference["tokens"])
        XCTAssertEqual(run.tokens.count, expected.values.count, "\(caseName) token count", file: file, line: line)
        let tokenDeviation = zip(run.tokens, expected.values).map { abs($0 - $1) }.max() ?? .infinity
        print("\(caseName) tokens: largest deviation \(tokenDeviation) (tolerance \(Self.tokenTolerance))")
        XCTAssertLessThanOrEqual(tokenDeviation, Self.tokenTolerance,
                                 "\(caseName) tokens: largest deviation \(tokenDeviation)", file: file, line: line)

        var compared = 0
        for (key, tensor) in reference.sorted(by: { $0.key < $1.key }) where key.hasPrefix("grad.") {
            let name = Self.prefix + key.dropFirst("grad.".count)
            let id = try XCTUnwrap(run.store.id(named: name), "\(name) is not a parameter", file: file, line: line)
            let actual = try XCTUnwrap(run.store.gradientValues(of: id), "\(name) has no gradient", file: file, line: line)
            XCTAssertEqual(actual.count, tensor.values.count, "\(name) gradient size", file: file, line: line)
            let scale = tensor.values.map(abs).max() ?? 0
            let deviation = zip(actual, tensor.values).map { abs($0 - $1) }.max() ?? .infinity
            let relative = deviation / max(scale, 1e-12)
            print("\(caseName) \(name): largest gradient deviation \(deviation), relative \(relative) (tolerance \(Self.gradientTolerance))")
            XCTAssertLessThanOrEqual(relative, Self.gradientTolerance,
                                     "\(caseName) \(name): gradient deviation \(deviation) of max \(scale)",
                                     file: file, line: line)
            compared += 1
        }
        XCTAssertEqual(compared, expectedGradients, "\(caseName) gradients compared", file: file, line: line)

        for (i, block) in run.model.blocks.enumerated() where i < run.model.config.firstTrainableBlock {
            XCTAssertNil(run.store.gradient(block.attn.qkv.weight), "frozen block \(i) has a gradient",
                         file: file, line: line)
        }
        return run
    }

    func testSmallShapeMatchesTimm() throws {
        let run = try compareWithTimm(case: "vit_small_case.safetensors", heads: 4, expectedGradients: 2 * 12 + 2)
        XCTAssertEqual(run.ignored, [])
        XCTAssertEqual(run.model.config, ViTConfig(imageSize: 48, patchSize: 16, width: 48, depth: 4, heads: 4,
                                                   mlpHidden: 192, trainableBlocks: 2))
    }

    func testResampledPositionEmbeddingMatchesTimm() throws {
        let run = try compareWithTimm(case: "vit_resample_case.safetensors", heads: 4, expectedGradients: 2 * 12 + 2)
        XCTAssertEqual(run.model.config.tokenCount, 17, "48 px weights run at 64 px: 4 × 4 patches")
    }

    func testTinyKeyLayoutMatchesTimm() throws {
        // heads: nil exercises the width / 64 default, which gives tiny's 3 heads.
        let run = try compareWithTimm(case: "vit_tiny_case.safetensors", heads: nil, expectedGradients: 12 + 2)
        XCTAssertEqual(run.ignored, ["head.bias", "head.weight"], "classifier head reported as ignored")
        XCTAssertEqual(run.model.config, ViTConfig.tiny(imageSize: 64, trainableBlocks: 5))
    }

    func testHuggingFaceKeysLoadLikeTimmKeys() throws {
        let (timm, _) = try run(case: "vit_small_case.safetensors", heads: 4)
        let (huggingFace, _) = try run(case: "vit_small_case.safetensors",
                                       weightsName: "vit_small_hf_weights.safetensors", heads: 4)
        XCTAssertEqual(huggingFace.model.config, timm.model.config)
        XCTAssertEqual(huggingFace.ignored, ["classifier.bias", "classifier.weight",
                                             "vit.pooler.dense.bias", "vit.pooler.dense.weight"])
        XCTAssertEqual(huggingFace.tokens, timm.tokens, "tokens from Hugging Face keys differ from timm keys")
        for entry in timm.store.entries {
            let id = timm.store.id(named: entry.name)!
            XCTAssertEqual(huggingFace.store.values(of: id), timm.store.values(of: id), "\(entry.name) values")
            XCTAssertEqual(huggingFace.store.gradientValues(of: id), timm.store.gradientValues(of: id),
                           "\(entry.name) gradients")
        }
    }

    func testImageSizeDefaultsToPretrainedGrid() throws {
        let source = try weights("vit_tiny_patch16_224.safetensors")
        let config = try ViTWeightLoader.inferConfig(from: source, imageSize: nil, heads: nil, trainableBlocks: 5)
        XCTAssertEqual(config, ViTConfig.tiny(imageSize: 224, trainableBlocks: 5))
    }
}
