/// Antialiased separable resampling in the manner of Pillow's `Image.resize`: each
/// output pixel centre maps to `(i + 0.5) * in / out`, and when shrinking the filter is
/// widened by the shrink factor so every input pixel contributes.
public enum ResampleFilter: String, Codable, Sendable {
    /// Triangle filter of support 1 (bilinear when enlarging, antialiased when shrinking).
    case bilinear
    /// Box filter of support 1/2 (pixel area averaging when shrinking).
    case box

    var support: Double {
        switch self {
        case .bilinear: return 1
        case .box: return 0.5
        }
    }

    func weight(_ x: Double) -> Double {
        switch self {
        case .bilinear:
            let a = abs(x)
            return a < 1 ? 1 - a : 0
        case .box:
            return (x > -0.5 && x <= 0.5) ? 1 : 0
        }
    }
}

/// Resizes interleaved RGB images to float output.
public enum ImageResampler {
    /// The taps of one axis: for output position `i`, input positions
    /// `first[i] ..< first[i] + count[i]` with weights `weights[i * maxTaps ...]`.
    struct Taps {
        var first: [Int]
        var count: [Int]
        var weights: [Float]
        var maxTaps: Int
    }

    static func taps(input: Int, output: Int, filter: ResampleFilter) -> Taps {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let maxTaps = Int((support * 2).rounded(.up)) + 1
        var taps = Taps(first: [], count: [], weights: [Float](repeating: 0, count: output * maxTaps), maxTaps: maxTaps)
        for i in 0..<output {
            let center = (Double(i) + 0.5) * scale
            let low = max(Int(center - support + 0.5), 0)
            let high = min(Int(center + support + 0.5), input)
            var raw: [Double] = []
            var total = 0.0
            for x in low..<max(high, low) {
                let w = filter.weight((Double(x) - center + 0.5) / filterScale)
                raw.append(w)
                total += w
            }
            taps.first.append(low)
            taps.count.append(raw.count)
            for (k, w) in raw.enumerated() {
                taps.weights[i * maxTaps + k] = Float(total == 0 ? 0 : w / total)
            }
        }
        return taps
    }

    /// Resizes `image` to `outWidth x outHeight`, writing interleaved RGB floats on the
    /// 0...255 scale (no rounding) into `output` (`outHeight * outWidth * 3` values).
    /// Horizontal then vertical pass, as Pillow does.
    public static func resize(_ image: RGBImage, width outWidth: Int, height outHeight: Int,
                              filter: ResampleFilter, into output: UnsafeMutablePointer<Float>) {
        let horizontal = taps(input: image.width, output: outWidth, filter: filter)
        let vertical = taps(input: image.height, output: outHeight, filter: filter)
        let inWidth = image.width, inHeight = image.height

        // Horizontal pass: [inHeight, outWidth, 3].
        var rows = [Float](repeating: 0, count: inHeight * outWidth * 3)
        image.pixels.withUnsafeBufferPointer { source in
            rows.withUnsafeMutableBufferPointer { target in
                horizontal.weights.withUnsafeBufferPointer { weights in
                    for y in 0..<inHeight {
                        let sourceRow = y * inWidth * 3
                        let targetRow = y * outWidth * 3
                        for x in 0..<outWidth {
                            var r: Float = 0, g: Float = 0, b: Float = 0
                            let first = horizontal.first[x]
                            for k in 0..<horizontal.count[x] {
                                let w = weights[x * horizontal.maxTaps + k]
                                let p = sourceRow + (first + k) * 3
                                r += w * Float(source[p])
                                g += w * Float(source[p + 1])
                                b += w * Float(source[p + 2])
                            }
                            target[targetRow + x * 3] = r
                            target[targetRow + x * 3 + 1] = g
                            target[targetRow + x * 3 + 2] = b
                        }
                    }
                }
            }
        }

        // Vertical pass: [outHeight, outWidth, 3].
        let rowLength = outWidth * 3
        rows.withUnsafeBufferPointer { source in
            vertical.weights.withUnsafeBufferPointer { weights in
                for y in 0..<outHeight {
                    let target = output + y * rowLength
                    for j in 0..<rowLength { target[j] = 0 }
                    let first = vertical.first[y]
                    for k in 0..<vertical.count[y] {
                        let w = weights[y * vertical.maxTaps + k]
                        let sourceRow = (first + k) * rowLength
                        for j in 0..<rowLength { target[j] += w * source[sourceRow + j] }
                    }
                }
            }
        }
    }
}
