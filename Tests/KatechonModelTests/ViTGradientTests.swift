import XCTest
import KatechonTensor
import KatechonModel

/// Finite-difference checks of the ViT layers' hand-written backward passes.
final class ViTGradientTests: XCTestCase {
    /// Gives every parameter of `store` random values in [-scale, scale], so no gradient
    /// is trivially zero or one.
    private func randomize(_ store: ParameterStore, seed: UInt64, scale: Float = 0.5) {
        for (index, id) in allParameters(store).enumerated() {
            store.setValues(GradientCheck.random(store.entries[id.index].count, seed: seed &+ UInt64(index),
                                                 scale: scale), of: id)
        }
    }

    private func allParameters(_ store: ParameterStore) -> [ParameterID] {
        store.entries.map { store.id(named: $0.name)! }
    }

    private func checkParameters(_ label: String, _ ids: [ParameterID], store: ParameterStore,
                                 loss: () -> Double, file: StaticString = #filePath, line: UInt = #line) {
        for id in ids {
            let name = store.entries[id.index].name
            GradientCheck.check("\(label) \(name)", values: store.values(of: id),
                                analytic: store.gradientValues(of: id)!,
                                set: { store.setValues($0, of: id) }, loss: loss, file: file, line: line)
        }
    }

    func testPatchEmbedMatchesConvolutionAndGradients() {
        let store = ParameterStore()
        let (size, patch, width, batch) = (8, 4, 5, 2)
        let layer = PatchEmbed(store, name: "patch_embed", imageSize: size, patchSize: patch,
                               width: width, trainable: true)
        store.allocate(seed: 1)
        randomize(store, seed: 2)
        let pixels = GradientCheck.random(batch * 3 * size * size, seed: 3, scale: 2)
        var patches = [Float](repeating: 0, count: batch * layer.patchCount * layer.patchLength)
        layer.im2col(pixels, batch: batch, patches: &patches)

        // One spare row per sample stands for the class token and must stay untouched.
        let sampleStride = (layer.patchCount + 1) * width
        let r = GradientCheck.random(batch * sampleStride, seed: 4)
        func run() -> [Float] {
            var y = [Float](repeating: 0, count: batch * sampleStride)
            y.withUnsafeMutableBufferPointer { yp in
                layer.forward(store, patches: patches, batch: batch, output: yp.baseAddress! + width,
                              outputSampleStride: sampleStride)
            }
            return y
        }

        // Reference: the convolution with kernel = stride = patch, written out directly.
        let y = run()
        let w = store.values(of: layer.weight)
        let bias = store.values(of: layer.bias)
        let grid = size / patch
        var worst: Float = 0
        for b in 0..<batch {
            XCTAssertEqual(Array(y[(b * sampleStride)..<(b * sampleStride + width)]), [Float](repeating: 0, count: width),
                           "class-token row of sample \(b) was written")
            for gy in 0..<grid {
                for gx in 0..<grid {
                    for o in 0..<width {
                        var sum = bias[o]
                        for c in 0..<3 {
                            for ky in 0..<patch {
                                for kx in 0..<patch {
                                    let pixel = pixels[((b * 3 + c) * size + gy * patch + ky) * size + gx * patch + kx]
                                    sum += w[((o * 3 + c) * patch + ky) * patch + kx] * pixel
                                }
                            }
                        }
                        let actual = y[b * sampleStride + (1 + gy * grid + gx) * width + o]
                        worst = max(worst, abs(actual - sum))
                    }
                }
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-5, "patch embedding vs direct convolution: largest deviation \(worst), tolerance 1e-5")

        func loss() -> Double { GradientCheck.weightedSum(run(), r) }
        store.zeroGradients()
        r.withUnsafeBufferPointer { rp in
            layer.backward(store, patches: patches, batch: batch, outputGradient: rp.baseAddress! + width,
                           outputSampleStride: sampleStride)
        }
        checkParameters("patch_embed", [layer.weight, layer.bias], store: store, loss: loss)
    }

    func testSelfAttentionGradients() {
        let store = ParameterStore()
        let (batch, tokens, width, heads) = (2, 5, 6, 2)
        let rows = batch * tokens
        let layer = SelfAttention(store, name: "attn", width: width, heads: heads, trainable: true)
        store.allocate(seed: 1)
        randomize(store, seed: 5, scale: 0.8)
        var x = GradientCheck.random(rows * width, seed: 6, scale: 1.5)
        let r = GradientCheck.random(rows * width, seed: 7)
        let cache = SelfAttention.Cache(batch: batch, tokens: tokens, width: width, heads: heads)

        func loss() -> Double {
            var y = [Float](repeating: 0, count: rows * width)
            layer.forward(store, input: x, batch: batch, tokens: tokens, cache: cache, output: &y)
            return GradientCheck.weightedSum(y, r)
        }
        _ = loss()
        store.zeroGradients()
        var dx = [Float](repeating: 0, count: x.count)
        layer.backward(store, input: x, batch: batch, tokens: tokens, cache: cache, outputGradient: r,
                       inputGradient: &dx)

        GradientCheck.check("attention dx", values: x, analytic: dx, set: { x = $0 }, loss: loss)
        checkParameters("attention", [layer.qkv.weight, layer.qkv.bias!, layer.proj.weight, layer.proj.bias!],
                        store: store, loss: loss)
    }

    func testMLPGradients() {
        let store = ParameterStore()
        let (rows, width, hidden) = (6, 5, 12)
        let layer = MLP(store, name: "mlp", width: width, hiddenWidth: hidden, trainable: true)
        store.allocate(seed: 1)
        randomize(store, seed: 8, scale: 0.8)
        var x = GradientCheck.random(rows * width, seed: 9, scale: 2)
        let r = GradientCheck.random(rows * width, seed: 10)
        var hiddenValues = [Float](repeating: 0, count: rows * hidden)
        var activated = [Float](repeating: 0, count: rows * hidden)

        func loss() -> Double {
            var y = [Float](repeating: 0, count: rows * width)
            layer.forward(store, input: x, rows: rows, hidden: &hiddenValues, activated: &activated, output: &y)
            return GradientCheck.weightedSum(y, r)
        }
        _ = loss()
        store.zeroGradients()
        var dx = [Float](repeating: 0, count: x.count)
        layer.backward(store, input: x, rows: rows, hidden: hiddenValues, outputGradient: r, inputGradient: &dx)

        GradientCheck.check("mlp dx", values: x, analytic: dx, set: { x = $0 }, loss: loss)
        checkParameters("mlp", [layer.fc1.weight, layer.fc1.bias!, layer.fc2.weight, layer.fc2.bias!],
                        store: store, loss: loss)
    }

    func testBlockGradients() {
        let store = ParameterStore()
        let (batch, tokens, width, heads, hidden) = (2, 4, 6, 3, 10)
        let rows = batch * tokens
        let block = Block(store, name: "blocks.0", width: width, heads: heads, hiddenWidth: hidden, trainable: true)
        store.allocate(seed: 1)
        randomize(store, seed: 11, scale: 0.8)
        var x = GradientCheck.random(rows * width, seed: 12, scale: 2)
        let r = GradientCheck.random(rows * width, seed: 13)
        let cache = Block.Cache(batch: batch, tokens: tokens, width: width, heads: heads, hiddenWidth: hidden)
        let workspace = Block.Workspace(rows: rows, width: width, hiddenWidth: hidden)

        func loss() -> Double {
            var y = x
            block.forward(store, x: &y, cache: cache, workspace: workspace)
            return GradientCheck.weightedSum(y, r)
        }
        _ = loss()
        store.zeroGradients()
        var gradient = r
        block.backward(store, cache: cache, gradient: &gradient, needsInputGradient: true)
        let parameters = allParameters(store)
        let parameterGradients = parameters.map { store.gradientValues(of: $0)! }

        GradientCheck.check("block dx", values: x, analytic: gradient, set: { x = $0 }, loss: loss)
        checkParameters("block", parameters, store: store, loss: loss)

        // Skipping the input gradient must not change any parameter gradient.
        _ = loss()
        store.zeroGradients()
        gradient = r
        block.backward(store, cache: cache, gradient: &gradient, needsInputGradient: false)
        for (id, expected) in zip(parameters, parameterGradients) {
            XCTAssertEqual(store.gradientValues(of: id)!, expected,
                           "\(store.entries[id.index].name) with needsInputGradient false")
        }
    }

    func testTinyViTEndToEndGradients() {
        let config = ViTConfig(imageSize: 32, patchSize: 16, width: 8, depth: 3, heads: 2, mlpHidden: 12,
                               trainableBlocks: 2)
        let store = ParameterStore()
        let model = VisionTransformer(store: store, config: config, prefix: "image_encoder.")
        store.allocate(seed: 1)
        randomize(store, seed: 21, scale: 0.6)
        let batch = 2
        let pixels = GradientCheck.random(batch * 3 * 32 * 32, seed: 22, scale: 2)
        let r = Tensor(shape: [batch, config.tokenCount, config.width],
                       values: GradientCheck.random(batch * config.tokenCount * config.width, seed: 23))

        func loss() -> Double {
            let tokens = model.forwardFeatures(pixels: pixels, batch: batch, training: false)
            return GradientCheck.weightedSum(tokens.values, r.values)
        }
        _ = model.forwardFeatures(pixels: pixels, batch: batch, training: true)
        store.zeroGradients()
        model.backwardFeatures(r, gradientsReady: nil)

        let trainable = allParameters(store).filter { store.isTrainable($0) }
        XCTAssertEqual(trainable.count, 2 * 12 + 2, "two blocks of 12 tensors and the final norm train")
        checkParameters("vit", trainable, store: store, loss: loss)
    }
}
