/// Bicubic resampling of a ViT position embedding to another patch grid.
///
/// The embedding is [1, prefix + gh·gw, D]: the prefix rows (the class token) are kept
/// and the [gh, gw, D] grid is resized per channel, as timm's `resample_abs_pos_embed`
/// does through `torch.nn.functional.interpolate(mode="bicubic", align_corners=False,
/// antialias=False)`. PyTorch's kernel (`upsample_bicubic2d`) is reproduced:
///
///     source x = (x_out + 0.5) · (in / out) − 0.5,  i = floor(x),  t = x − i
///     weights  = W(t + 1), W(t), W(1 − t), W(2 − t)   on inputs i − 1 … i + 2
///     W(s) = (A + 2)|s|³ − (A + 3)|s|² + 1       for |s| ≤ 1
///     W(s) = A|s|³ − 5A|s|² + 8A|s| − 4A          for 1 < |s| < 2,   A = −0.75
///
/// with input indices clamped to the border, first along x and then along y.
///
/// NOTE: timm 1.0's `checkpoint_filter_fn` and `dynamic_img_size` call this resampling
/// with antialias=True, which gives other values when the grid shrinks (PyTorch then
/// widens the kernel and uses A = −0.5). Checkpoints resampled by timm at load time
/// with those defaults therefore differ slightly from this function's output.
public enum PositionEmbedding {
    static let cubicA: Float = -0.75

    /// Resamples `values` [1, prefixTokens + old.height·old.width, width] to
    /// [1, prefixTokens + new.height·new.width, width].
    public static func resample(
        _ values: [Float], width: Int, prefixTokens: Int,
        from old: (height: Int, width: Int), to new: (height: Int, width: Int)
    ) -> [Float] {
        precondition(values.count == (prefixTokens + old.height * old.width) * width,
                     "position embedding has \(values.count) values, not (\(prefixTokens) + \(old.height)·\(old.width))·\(width)")
        var output = [Float](repeating: 0, count: (prefixTokens + new.height * new.width) * width)
        let xTaps = taps(input: old.width, output: new.width)
        let yTaps = taps(input: old.height, output: new.height)

        values.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                let src = source.baseAddress!
                let dst = destination.baseAddress!
                dst.update(from: src, count: prefixTokens * width)
                let grid = src + prefixTokens * width
                let outGrid = dst + prefixTokens * width
                var row = [Float](repeating: 0, count: width)

                for oy in 0..<new.height {
                    for ox in 0..<new.width {
                        let out = outGrid + (oy * new.width + ox) * width
                        for ty in 0..<4 {
                            let iy = yTaps.indices[oy * 4 + ty]
                            let wy = yTaps.weights[oy * 4 + ty]

                            // interpolate along x within input row iy
                            for c in 0..<width { row[c] = 0 }
                            for tx in 0..<4 {
                                let ix = xTaps.indices[ox * 4 + tx]
                                let wx = xTaps.weights[ox * 4 + tx]
                                let pixel = grid + (iy * old.width + ix) * width
                                for c in 0..<width { row[c] += wx * pixel[c] }
                            }

                            // then along y
                            for c in 0..<width { out[c] += wy * row[c] }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Computes the four clamped input indices and cubic weights of every output position.
    static func taps(input: Int, output: Int) -> (indices: [Int], weights: [Float]) {
        var indices = [Int](repeating: 0, count: 4 * output)
        var weights = [Float](repeating: 0, count: 4 * output)
        let scale = Float(input) / Float(output)
        for o in 0..<output {
            let real = scale * (Float(o) + 0.5) - 0.5
            let base = min(Int(real.rounded(.down)), input - 1)
            let t = min(max(real - Float(base), 0), 1)
            let w = [cubicFar(t + 1), cubicNear(t), cubicNear(1 - t), cubicFar(2 - t)]
            for k in 0..<4 {
                indices[4 * o + k] = min(max(base - 1 + k, 0), input - 1)
                weights[4 * o + k] = w[k]
            }
        }
        return (indices, weights)
    }

    /// W(s) for |s| ≤ 1.
    static func cubicNear(_ s: Float) -> Float {
        ((cubicA + 2) * s - (cubicA + 3)) * s * s + 1
    }

    /// W(s) for 1 < |s| < 2.
    static func cubicFar(_ s: Float) -> Float {
        ((cubicA * s - 5 * cubicA) * s + 8 * cubicA) * s - 4 * cubicA
    }
}
