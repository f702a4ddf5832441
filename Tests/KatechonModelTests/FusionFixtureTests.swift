import Foundation
import XCTest
import KatechonTensor
import KatechonModel

/// Compares the fusion network and AdamW with the PyTorch reference written by
/// scripts/reference/make_fusion_fixture.py (Fixtures/fusion_*.json).
final class FusionFixtureTests: XCTestCase {
    struct Fixture: Decodable {
        struct Config: Decodable {
            let batch, imageTokens, imageWidth, metadataWidth, metaTokens: Int
            let fusionWidth, fusionHeads, metadataHidden, headHidden, classCount: Int
            let posWeight: Float?
            let labelSmoothing, learningRate, weightDecay: Float
            let adamwSteps: Int
        }
        struct Parameter: Decodable {
            let name: String
            let shape: [Int]
            let values: [Float]
        }
        let config: Config
        let parameters: [Parameter]
        let imageTokens: [Float]
        let metadata: [Float]
        let labels: [Int32]
        let logits: [Float]
        let loss: Float
        let gradients: [String: [Float]]
        let parametersAfterAdamW: [String: [Float]]
    }

    static let logitTolerance: Float = 1e-4
    static let gradientTolerance: Float = 1e-3
    static let adamWTolerance: Float = 1e-5

    func testBinaryCaseMatchesPyTorch() throws {
        try compare(fixtureNamed: "fusion_binary")
    }

    func testMulticlassCaseMatchesPyTorch() throws {
        try compare(fixtureNamed: "fusion_multiclass")
    }

    private func compare(fixtureNamed name: String) throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                                "fixture \(name).json is missing; run scripts/reference/make_fusion_fixture.py")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let c = fixture.config

        // The image encoder is not built here; only its width sets the image projection.
        let vit = ViTConfig(imageSize: 32, patchSize: 16, width: c.imageWidth, depth: 1, heads: 2,
                            mlpHidden: 2 * c.imageWidth, trainableBlocks: 0)
        let config = ModelConfig(vit: vit, metadataWidth: c.metadataWidth, metaTokens: c.metaTokens,
                                 fusionWidth: c.fusionWidth, fusionHeads: c.fusionHeads,
                                 metadataHidden: c.metadataHidden, headHidden: c.headHidden,
                                 classCount: c.classCount, fusion: .mutual, posWeight: c.posWeight,
                                 labelSmoothing: c.labelSmoothing)
        try config.validate()
        let store = ParameterStore()
        let network = FusionNetwork(store: store, config: config, imageWidth: c.imageWidth)
        store.allocate(seed: 0)

        // Same parameter names and shapes on both sides, then PyTorch's values.
        XCTAssertEqual(Set(store.entries.map(\.name)), Set(fixture.parameters.map(\.name)), "\(name): parameter names")
        for parameter in fixture.parameters {
            let id = try XCTUnwrap(store.id(named: parameter.name), "\(name): \(parameter.name) not declared")
            XCTAssertEqual(store.entries[id.index].shape, parameter.shape, "\(name): shape of \(parameter.name)")
            store.setValues(parameter.values, of: id)
        }
        let loss = ClassificationLoss(classCount: c.classCount, positiveWeight: c.posWeight,
                                      labelSmoothing: c.labelSmoothing)
        let image = Tensor(shape: [c.batch, c.imageTokens, c.imageWidth], values: fixture.imageTokens)

        // Logits and loss.
        let logits = network.forward(imageTokens: image, metadata: fixture.metadata, batch: c.batch)
        let logitDeviation = maxDeviation(logits.values, fixture.logits)
        print("\(name) logits: max |Δ| \(logitDeviation) (tolerance \(Self.logitTolerance))")
        XCTAssertLessThanOrEqual(logitDeviation, Self.logitTolerance, "\(name): logits")
        let result = loss.loss(logits: logits, labels: fixture.labels)
        XCTAssertEqual(result.loss, fixture.loss, accuracy: 1e-5, "\(name): loss")

        // Every parameter gradient, relative to the largest reference value of its tensor.
        store.zeroGradients()
        _ = network.backward(logitGradient: result.gradient, gradientsReady: nil)
        for entry in store.entries {
            let id = store.id(named: entry.name)!
            let expected = try XCTUnwrap(fixture.gradients[entry.name], "\(name): no gradient for \(entry.name)")
            let relative = maxDeviation(store.gradientValues(of: id)!, expected)
                / max(expected.map(abs).max() ?? 0, 1e-12)
            print("\(name) grad \(entry.name): max |Δ| / max |ref| \(relative) (tolerance \(Self.gradientTolerance))")
            XCTAssertLessThanOrEqual(relative, Self.gradientTolerance, "\(name): gradient of \(entry.name)")
        }

        // Three AdamW steps on the same inputs.
        let optimizer = AdamW(store: store, weightDecay: c.weightDecay)
        for _ in 0..<c.adamwSteps {
            store.zeroGradients()
            let stepLogits = network.forward(imageTokens: image, metadata: fixture.metadata, batch: c.batch)
            let stepLoss = loss.loss(logits: stepLogits, labels: fixture.labels)
            _ = network.backward(logitGradient: stepLoss.gradient, gradientsReady: nil)
            optimizer.step(learningRate: c.learningRate)
        }
        XCTAssertEqual(optimizer.stepCount, c.adamwSteps)
        for entry in store.entries {
            let expected = try XCTUnwrap(fixture.parametersAfterAdamW[entry.name], "\(name): \(entry.name)")
            let deviation = maxDeviation(store.values(of: store.id(named: entry.name)!), expected)
            print("\(name) after AdamW \(entry.name): max |Δ| \(deviation) (tolerance \(Self.adamWTolerance))")
            XCTAssertLessThanOrEqual(deviation, Self.adamWTolerance, "\(name): \(entry.name) after AdamW")
        }
    }

    private func maxDeviation(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "\(a.count) values against \(b.count)")
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}
