import KatechonTensor

/// timm's `patch_embed`: a convolution whose kernel and stride are both the patch size,
/// computed as im2col followed by one matrix product.
///
///     patches[B·P, C·p·p] = im2col(pixels[B, C, S, S])     (column order c, ky, kx)
///     y[B·P, D] = patches Wᵀ + b
///
/// - `proj.weight` W [D, C, p, p] (PyTorch's Conv2d layout, read as [D, C·p·p]),
///   `proj.bias` b [D].
/// - Shapes: B images, C = 3 channels, S pixels a side, p the patch size,
///   P = (S / p)² patches per image in row-major order (timm's `flatten(2)`), D the width.
/// - Initialisation: weight truncated normal with std 0.02, zero bias; pretrained
///   weights normally replace both.
public struct PatchEmbed {
    public static let channels = 3

    public let weight: ParameterID
    public let bias: ParameterID
    public let imageSize: Int
    public let patchSize: Int
    public let width: Int

    public init(_ store: ParameterStore, name: String, imageSize: Int, patchSize: Int, width: Int,
                trainable: Bool) {
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.width = width
        weight = store.declare("\(name).proj.weight", [width, Self.channels, patchSize, patchSize],
                               trainable: trainable, initializer: .truncatedNormal(std: 0.02))
        bias = store.declare("\(name).proj.bias", [width], trainable: trainable, initializer: .zeros)
    }

    public var gridSize: Int { imageSize / patchSize }
    public var patchCount: Int { gridSize * gridSize }
    /// Floats in one flattened patch, C·p·p.
    public var patchLength: Int { Self.channels * patchSize * patchSize }

    /// Copies every patch of `pixels` [B, C, S, S] into a row of `patches` [B·P, C·p·p].
    public func im2col(_ pixels: UnsafePointer<Float>, batch: Int, patches: UnsafeMutablePointer<Float>) {
        let (s, p, grid) = (imageSize, patchSize, gridSize)
        for b in 0..<batch {
            let image = pixels + b * Self.channels * s * s
            for gy in 0..<grid {
                for gx in 0..<grid {
                    var destination = patches + ((b * grid + gy) * grid + gx) * patchLength
                    for c in 0..<Self.channels {
                        for ky in 0..<p {
                            let source = image + (c * s + gy * p + ky) * s + gx * p
                            destination.update(from: source, count: p)
                            destination += p
                        }
                    }
                }
            }
        }
    }

    /// Writes the embedding of image b's patches into rows `output + b·outputSampleStride`,
    /// one row of D floats per patch, so the caller can leave room for the class token.
    public func forward(_ store: ParameterStore, patches: UnsafePointer<Float>, batch: Int,
                        output y: UnsafeMutablePointer<Float>, outputSampleStride: Int) {
        let w = store.value(weight)
        let bias = store.value(self.bias)
        for b in 0..<batch {
            let yb = y + b * outputSampleStride
            for r in 0..<patchCount { (yb + r * width).update(from: bias, count: width) }

            // y = patches Wᵀ + b
            sgemm(transposeA: false, transposeB: true, m: patchCount, n: width, k: patchLength,
                  a: patches + b * patchCount * patchLength, lda: patchLength,
                  b: w, ldb: patchLength, beta: 1, c: yb, ldc: width)
        }
    }

    /// Accumulates dW and db from dy laid out as `forward` wrote y. There is no input
    /// gradient: the pixels are data, not parameters.
    public func backward(_ store: ParameterStore, patches: UnsafePointer<Float>, batch: Int,
                         outputGradient dy: UnsafePointer<Float>, outputSampleStride: Int) {
        guard let dW = store.gradient(weight), let db = store.gradient(bias) else { return }
        for b in 0..<batch {
            let dyb = dy + b * outputSampleStride

            // from y = patches Wᵀ + b: dW += dyᵀ patches, db += Σ_rows dy
            sgemm(transposeA: true, transposeB: false, m: width, n: patchLength, k: patchCount,
                  a: dyb, lda: width, b: patches + b * patchCount * patchLength, ldb: patchLength,
                  beta: 1, c: dW, ldc: patchLength)
            for r in 0..<patchCount {
                let row = dyb + r * width
                for j in 0..<width { db[j] += row[j] }
            }
        }
    }
}
