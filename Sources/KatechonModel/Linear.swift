import KatechonTensor

/// A fully connected layer applied to every row.
///
///     y = x Wᵀ + b
///
/// - `weight` [out, in] (PyTorch's layout), `bias` [out].
/// - Shapes: x [R, in] and y [R, out], where R is every leading dimension flattened
///   (for tokens, R = B·N).
/// - Initialisation: weight truncated normal with std 0.02 and zero bias, as timm
///   initialises ViT linear layers; other layers may pass another initializer.
public struct Linear {
    public let weight: ParameterID
    public let bias: ParameterID?
    public let inputWidth: Int
    public let outputWidth: Int

    public init(
        _ store: ParameterStore, name: String, input: Int, output: Int, bias hasBias: Bool = true,
        trainable: Bool, weightInitializer: ParameterInitializer = .truncatedNormal(std: 0.02)
    ) {
        inputWidth = input
        outputWidth = output
        weight = store.declare("\(name).weight", [output, input], trainable: trainable,
                               initializer: weightInitializer)
        bias = hasBias
            ? store.declare("\(name).bias", [output], trainable: trainable, initializer: .zeros)
            : nil
    }

    /// y[R, out] = x[R, in] Wᵀ + b
    public func forward(_ store: ParameterStore, input x: UnsafePointer<Float>, rows: Int,
                        output y: UnsafeMutablePointer<Float>) {
        let w = store.value(weight)
        if let bias {
            let b = store.value(bias)
            for r in 0..<rows { (y + r * outputWidth).update(from: b, count: outputWidth) }
        }
        sgemm(transposeA: false, transposeB: true, m: rows, n: outputWidth, k: inputWidth,
              a: x, lda: inputWidth, b: w, ldb: inputWidth,
              beta: bias == nil ? 0 : 1, c: y, ldc: outputWidth)
    }

    /// Accumulates dW and db (when trainable) and writes dx (when `inputGradient` is given).
    public func backward(_ store: ParameterStore, input x: UnsafePointer<Float>, rows: Int,
                         outputGradient dy: UnsafePointer<Float>,
                         inputGradient dx: UnsafeMutablePointer<Float>?) {
        // from y = x Wᵀ + b: dW += dyᵀ x, db += Σ_rows dy
        if let dW = store.gradient(weight) {
            sgemm(transposeA: true, transposeB: false, m: outputWidth, n: inputWidth, k: rows,
                  a: dy, lda: outputWidth, b: x, ldb: inputWidth, beta: 1, c: dW, ldc: inputWidth)
        }
        if let bias, let db = store.gradient(bias) {
            for r in 0..<rows {
                let row = dy + r * outputWidth
                for j in 0..<outputWidth { db[j] += row[j] }
            }
        }

        // from y = x Wᵀ: dx = dy W
        if let dx {
            sgemm(transposeA: false, transposeB: false, m: rows, n: inputWidth, k: outputWidth,
                  a: dy, lda: outputWidth, b: store.value(weight), ldb: inputWidth,
                  beta: 0, c: dx, ldc: inputWidth)
        }
    }
}
