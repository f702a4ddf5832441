import XCTest
import KatechonTensor
import KatechonModel

final class PrimitiveGradientTests: XCTestCase {
    func testLinearGradients() {
        let store = ParameterStore()
        let layer = Linear(store, name: "fc", input: 5, output: 4, trainable: true)
        store.allocate(seed: 1)
        store.setValues(GradientCheck.random(20, seed: 2), of: layer.weight)
        store.setValues(GradientCheck.random(4, seed: 3), of: layer.bias!)
        let rows = 3
        var x = GradientCheck.random(rows * 5, seed: 4)
        let r = GradientCheck.random(rows * 4, seed: 5)

        func loss() -> Double {
            var y = [Float](repeating: 0, count: rows * 4)
            layer.forward(store, input: x, rows: rows, output: &y)
            return GradientCheck.weightedSum(y, r)
        }
        store.zeroGradients()
        var dx = [Float](repeating: 0, count: x.count)
        layer.backward(store, input: x, rows: rows, outputGradient: r, inputGradient: &dx)

        GradientCheck.check("linear dx", values: x, analytic: dx, set: { x = $0 }, loss: loss)
        let dW = store.gradientValues(of: layer.weight)!
        GradientCheck.check("linear dW", values: store.values(of: layer.weight), analytic: dW,
                            set: { store.setValues($0, of: layer.weight) }, loss: loss)
        let db = store.gradientValues(of: layer.bias!)!
        GradientCheck.check("linear db", values: store.values(of: layer.bias!), analytic: db,
                            set: { store.setValues($0, of: layer.bias!) }, loss: loss)
    }

    func testLayerNormGradients() {
        let store = ParameterStore()
        let width = 6
        let layer = LayerNorm(store, name: "norm", width: width, trainable: true)
        store.allocate(seed: 1)
        store.setValues(GradientCheck.random(width, seed: 2, scale: 2), of: layer.weight)
        store.setValues(GradientCheck.random(width, seed: 3), of: layer.bias)
        let rows = 4
        var x = GradientCheck.random(rows * width, seed: 4, scale: 3)
        let r = GradientCheck.random(rows * width, seed: 5)

        func loss() -> Double {
            var y = [Float](repeating: 0, count: x.count)
            layer.forward(store, input: x, rows: rows, output: &y, cache: nil)
            return GradientCheck.weightedSum(y, r)
        }
        let cache = LayerNorm.Cache(rows: rows)
        var y = [Float](repeating: 0, count: x.count)
        layer.forward(store, input: x, rows: rows, output: &y, cache: cache)
        store.zeroGradients()
        var dx = [Float](repeating: 0, count: x.count)
        layer.backward(store, input: x, rows: rows, cache: cache, outputGradient: r, inputGradient: &dx)

        GradientCheck.check("layernorm dx", values: x, analytic: dx, set: { x = $0 }, loss: loss)
        GradientCheck.check("layernorm dgamma", values: store.values(of: layer.weight),
                            analytic: store.gradientValues(of: layer.weight)!,
                            set: { store.setValues($0, of: layer.weight) }, loss: loss)
        GradientCheck.check("layernorm dbeta", values: store.values(of: layer.bias),
                            analytic: store.gradientValues(of: layer.bias)!,
                            set: { store.setValues($0, of: layer.bias) }, loss: loss)
    }

    func testGELUGradientAndValues() {
        var x = GradientCheck.random(40, seed: 7, scale: 4)
        let r = GradientCheck.random(40, seed: 8)
        func loss() -> Double {
            var y = [Float](repeating: 0, count: x.count)
            GELU.forward(x, &y, count: x.count)
            return GradientCheck.weightedSum(y, r)
        }
        var dx = [Float](repeating: 0, count: x.count)
        GELU.backward(x, outputGradient: r, inputGradient: &dx, count: x.count)
        GradientCheck.check("gelu dx", values: x, analytic: dx, set: { x = $0 }, loss: loss)

        // Exact-erf GELU values from PyTorch's nn.GELU() (approximate="none").
        let inputs: [Float] = [-3, -1, -0.5, 0, 0.5, 1, 3]
        let expected: [Float] = [-0.0040496, -0.1586553, -0.1542687, 0, 0.3457313, 0.8413447, 2.9959502]
        var y = [Float](repeating: 0, count: inputs.count)
        GELU.forward(inputs, &y, count: inputs.count)
        for i in inputs.indices {
            XCTAssertEqual(y[i], expected[i], accuracy: 1e-6, "GELU(\(inputs[i]))")
        }
    }

    func testAttentionGradients() {
        let shape = AttentionShape(batch: 2, heads: 2, headDim: 3, queryTokens: 4, keyTokens: 5)
        let width = shape.heads * shape.headDim
        // Queries and keys/values live in wider rows to exercise the strides.
        let qStride = width + 2
        let kvStride = 2 * width
        var q = GradientCheck.random(shape.batch * shape.queryTokens * qStride, seed: 11, scale: 2)
        var kv = GradientCheck.random(shape.batch * shape.keyTokens * kvStride, seed: 12, scale: 2)
        let r = GradientCheck.random(shape.batch * shape.queryTokens * width, seed: 13)
        let probabilities = Tensor([shape.probabilityCount])

        func run(_ q: inout [Float], _ kv: inout [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: r.count)
            q.withUnsafeMutableBufferPointer { qp in
                kv.withUnsafeMutableBufferPointer { kvp in
                    out.withUnsafeMutableBufferPointer { op in
                        Attention.forward(
                            shape: shape,
                            query: StridedRows(qp.baseAddress!, stride: qStride),
                            key: StridedRows(kvp.baseAddress!, stride: kvStride),
                            value: StridedRows(kvp.baseAddress! + width, stride: kvStride),
                            probabilities: probabilities.pointer,
                            output: StridedRows(op.baseAddress!, stride: width))
                    }
                }
            }
            return out
        }
        func loss() -> Double { GradientCheck.weightedSum(run(&q, &kv), r) }

        _ = run(&q, &kv)
        var dq = [Float](repeating: 0, count: q.count)
        var dkv = [Float](repeating: 0, count: kv.count)
        var dOut = r
        q.withUnsafeMutableBufferPointer { qp in
            kv.withUnsafeMutableBufferPointer { kvp in
                dq.withUnsafeMutableBufferPointer { dqp in
                    dkv.withUnsafeMutableBufferPointer { dkvp in
                        dOut.withUnsafeMutableBufferPointer { dop in
                            Attention.backward(
                                shape: shape,
                                query: StridedRows(qp.baseAddress!, stride: qStride),
                                key: StridedRows(kvp.baseAddress!, stride: kvStride),
                                value: StridedRows(kvp.baseAddress! + width, stride: kvStride),
                                probabilities: probabilities.pointer,
                                outputGradient: StridedRows(dop.baseAddress!, stride: width),
                                queryGradient: StridedRows(dqp.baseAddress!, stride: qStride),
                                keyGradient: StridedRows(dkvp.baseAddress!, stride: kvStride),
                                valueGradient: StridedRows(dkvp.baseAddress! + width, stride: kvStride))
                        }
                    }
                }
            }
        }
        // Columns outside the q block are padding that attention never reads.
        for row in 0..<(q.count / qStride) {
            dq[row * qStride + width] = 0
            dq[row * qStride + width + 1] = 0
        }
        GradientCheck.check("attention dq", values: q, analytic: dq, set: { q = $0 }, loss: loss)
        GradientCheck.check("attention dk dv", values: kv, analytic: dkv, set: { kv = $0 }, loss: loss)
    }

    func testStoreLaysTrainableOutInReverseOrder() {
        let store = ParameterStore()
        let first = store.declare("a", [3], trainable: true, initializer: .zeros)
        let frozen = store.declare("b", [2], trainable: false, initializer: .ones)
        let last = store.declare("c", [4], trainable: true, initializer: .zeros)
        store.allocate(seed: 0)
        XCTAssertEqual(store.trainableCount, 7)
        XCTAssertEqual(store.frozenCount, 2)
        XCTAssertEqual(store.gradientEnd(last), 4, "last declared parameter starts the buffer")
        XCTAssertEqual(store.gradientEnd(first), 7)
        XCTAssertNil(store.gradient(frozen))
        XCTAssertEqual(store.values(of: frozen), [1, 1])
    }
}
