/// Bicubic resampling of a ViT position embedding to another patch grid.
///
/// The embedding is [1, prefix + gh·gw, D]: the prefix rows (the class token) are kept
/// and the [gh, gw, D] grid is resized per channel, as timm's `resample_abs_pos_embed`
/// does through `torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`.
/// PyTorch's two kernels are reproduced, with scale = in / out along each axis:
///
/// - antialias=False (`upsample_bicubic2d`): source x = (x_out + 0.5) · scale − 0.5,
///   i = floor(x), t = x − i, weights W(t + 1), W(t), W(1 − t), W(2 − t) on inputs
///   i − 1 … i + 2 clamped to the border, with A = −0.75.
/// - antialias=True (`_upsample_bicubic2d_aa`): centre c = (x_out + 0.5) · scale; when
///   shrinking (scale > 1) the kernel is stretched by scale; the inputs within its
///   support get weights W((j + 0.5 − c) / stretch) with A = −0.5, normalised to sum 1.
///
///     W(s) = (A + 2)|s|³ − (A + 3)|s|² + 1       for |s| ≤ 1
///     W(s) = A|s|³ − 5A|s|² + 8A|s| − 4A          for 1 < |s| < 2, 0 beyond
///
/// Each output is interpolated along x first and then along y, as PyTorch does.
public enum PositionEmbedding {
    /// The input indices and weights that make one output position.
    struct Taps {
        var indices: [Int]
        var weights: [Float]
    }

    /// Resamples `values` [1, prefixTokens + old.height·old.width, width] to
    /// [1, prefixTokens + new.height·new.width, width].
    ///
    /// timm 1.0's `resample_abs_pos_embed` and `checkpoint_filter_fn` default to
    /// antialias=True; this function defaults to antialias=False.
    public static func resample(
        _ values: [Float], width: Int, prefixTokens: Int,
        from old: (height: Int, width: Int), to new: (height: Int, width: Int),
        antialias: Bool = false
    ) -> [Float] {
        precondition(values.count == (prefixTokens + old.height * old.width) * width,
                     "position embedding has \(values.count) values, not (\(prefixTokens) + \(old.height)·\(old.width))·\(width)")
        var output = [Float](repeating: 0, count: (prefixTokens + new.height * new.width) * width)
        let xTaps = taps(input: old.width, output: new.width, antialias: antialias)
        let yTaps = taps(input: old.height, output: new.height, antialias: antialias)

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
                        for (iy, wy) in zip(yTaps[oy].indices, yTaps[oy].weights) {
                            // interpolate along x within input row iy
                            for c in 0..<width { row[c] = 0 }
                            for (ix, wx) in zip(xTaps[ox].indices, xTaps[ox].weights) {
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

    /// Computes the input indices and weights of every output position along one axis.
    static func taps(input: Int, output: Int, antialias: Bool) -> [Taps] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { o in
            antialias ? antialiasedTaps(o, input: input, scale: scale) : clampedTaps(o, input: input, scale: scale)
        }
    }

    /// PyTorch's `upsample_bicubic2d` taps: four inputs, clamped to the border.
    static func clampedTaps(_ o: Int, input: Int, scale: Float) -> Taps {
        let a: Float = -0.75
        let real = scale * (Float(o) + 0.5) - 0.5
        let base = min(Int(real.rounded(.down)), input - 1)
        let t = min(max(real - Float(base), 0), 1)
        let weights = [cubic(t + 1, a), cubic(t, a), cubic(1 - t, a), cubic(2 - t, a)]
        let indices = (0..<4).map { min(max(base - 1 + $0, 0), input - 1) }
        return Taps(indices: indices, weights: weights)
    }

    /// PyTorch's `_upsample_bicubic2d_aa` taps: every input under the (stretched)
    /// kernel, weights normalised to sum 1.
    static func antialiasedTaps(_ o: Int, input: Int, scale: Float) -> Taps {
        let a: Float = -0.5
        let halfWidth: Float = 2
        let stretch = max(scale, 1)
        let inverseStretch = 1 / stretch
        let support = halfWidth * stretch
        let centre = scale * (Float(o) + 0.5)
        // Truncation toward zero, then the clamp, as in PyTorch's integer casts.
        let first = max(Int(centre - support + 0.5), 0)
        let end = min(Int(centre + support + 0.5), input)
        var indices: [Int] = []
        var weights: [Float] = []
        var total: Float = 0
        for j in first..<max(end, first) {
            let w = cubic((Float(j) - centre + 0.5) * inverseStretch, a)
            indices.append(j)
            weights.append(w)
            total += w
        }
        if total != 0 {
            for k in weights.indices { weights[k] /= total }
        }
        return Taps(indices: indices, weights: weights)
    }

    /// The cubic convolution kernel W(s) with parameter A = `a`.
    static func cubic(_ s: Float, _ a: Float) -> Float {
        let x = abs(s)
        if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }
}
