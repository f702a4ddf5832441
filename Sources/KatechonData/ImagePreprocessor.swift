import Foundation

/// The random image changes of training, with their ranges. Every draw comes from
/// `SampleRandom(seed:epoch:index:)`, so a sample's pixels in an epoch do not depend on
/// its batch, rank or whether the run was resumed.
public struct AugmentationSettings: Codable, Sendable, Equatable {
    /// Random horizontal and vertical flips, each with probability 1/2.
    public var flips = true
    /// Random rotation by 0, 90, 180 or 270 degrees.
    public var rotate90 = true
    /// Largest shift along each axis, as a fraction of the image size.
    public var maxShift = 0.06
    /// Largest relative zoom in or out (scale drawn from 1 ± maxScale).
    public var maxScale = 0.1
    /// Largest relative brightness change (factor drawn from 1 ± brightness).
    public var brightness = 0.2
    /// Largest relative contrast change about the image's mean grey.
    public var contrast = 0.2
    /// Largest hue rotation, as a fraction of a full turn about the grey axis.
    public var hue = 0.03

    public init() {}
}

/// Turns an RGB8 image into the model's input: resized to `imageSize x imageSize` with
/// antialiasing, scaled to [0, 1], optionally augmented, normalised per channel with
/// `(x - mean) / std`, and written channel-first as `[3, S, S]` floats.
public struct ImagePreprocessor: Codable, Sendable, Equatable {
    public var imageSize: Int
    public var mean: [Float]
    public var std: [Float]
    public var filter: ResampleFilter
    public var augmentation: AugmentationSettings

    public init(imageSize: Int, mean: [Float] = [0.5, 0.5, 0.5], std: [Float] = [0.5, 0.5, 0.5],
                filter: ResampleFilter = .bilinear, augmentation: AugmentationSettings = AugmentationSettings()) {
        precondition(imageSize > 0, "image size must be positive")
        precondition(mean.count == 3 && std.count == 3 && std.allSatisfy { $0 > 0 }, "mean and std need three values, std positive")
        self.imageSize = imageSize
        self.mean = mean
        self.std = std
        self.filter = filter
        self.augmentation = augmentation
    }

    /// The random parameters of one augmented sample.
    struct Draw {
        var flipHorizontal = false
        var flipVertical = false
        var quarterTurns = 0
        var shiftX = 0.0, shiftY = 0.0, scale = 1.0
        var brightness = 1.0, contrast = 1.0, hueTurns = 0.0

        /// Draws every parameter in a fixed order, whatever the settings, so changing
        /// one setting does not shift the draws of the others.
        init(settings: AugmentationSettings, random: inout SampleRandom) {
            let horizontal = random.unit() < 0.5
            let vertical = random.unit() < 0.5
            let turns = random.below(4)
            let sx = random.uniform(-1...1), sy = random.uniform(-1...1), zoom = random.uniform(-1...1)
            let light = random.uniform(-1...1), contrastDraw = random.uniform(-1...1), hueDraw = random.uniform(-1...1)
            if settings.flips {
                flipHorizontal = horizontal
                flipVertical = vertical
            }
            if settings.rotate90 { quarterTurns = turns }
            shiftX = sx * settings.maxShift
            shiftY = sy * settings.maxShift
            scale = 1 + zoom * settings.maxScale
            brightness = 1 + light * settings.brightness
            contrast = 1 + contrastDraw * settings.contrast
            hueTurns = hueDraw * settings.hue
        }

        init() {}
    }

    /// Writes the model input for `image` into `output[0 ..< 3 * S * S]`. With
    /// `augment`, the draws come from `SampleRandom(seed:epoch:index:)`.
    public func process(_ image: RGBImage, augment: Bool, seed: UInt64, epoch: Int, index: Int,
                        into output: UnsafeMutablePointer<Float>) {
        let size = imageSize
        let planeSize = size * size
        var resized = [Float](repeating: 0, count: planeSize * 3)
        resized.withUnsafeMutableBufferPointer { buffer in
            ImageResampler.resize(image, width: size, height: size, filter: filter, into: buffer.baseAddress!)
        }

        guard augment else {
            resized.withUnsafeBufferPointer { source in
                for c in 0..<3 {
                    let scale = 1 / (255 * std[c]), shift = mean[c] / std[c]
                    let plane = output + c * planeSize
                    for p in 0..<planeSize { plane[p] = source[p * 3 + c] * scale - shift }
                }
            }
            return
        }

        var random = SampleRandom(seed: seed, epoch: epoch, index: index)
        let draw = Draw(settings: augmentation, random: &random)
        var warped = [Float](repeating: 0, count: planeSize * 3)
        resized.withUnsafeBufferPointer { source in
            warped.withUnsafeMutableBufferPointer { target in
                warp(source, into: target, draw: draw)
            }
        }
        warped.withUnsafeMutableBufferPointer { pixels in
            adjustColour(pixels, draw: draw)
            for c in 0..<3 {
                let plane = output + c * planeSize
                for p in 0..<planeSize { plane[p] = (pixels[p * 3 + c] - mean[c]) / std[c] }
            }
        }
    }

    /// Applies flips, quarter turns, shift and zoom by inverse mapping each output pixel
    /// centre to the source and sampling bilinearly; borders repeat the edge pixels.
    /// Output is interleaved RGB scaled to [0, 1].
    private func warp(_ source: UnsafeBufferPointer<Float>, into target: UnsafeMutableBufferPointer<Float>, draw: Draw) {
        let size = imageSize
        let half = Double(size) / 2
        let shiftX = draw.shiftX * Double(size), shiftY = draw.shiftY * Double(size)
        for oy in 0..<size {
            for ox in 0..<size {
                // Output pixel centre relative to the image centre.
                var x = Double(ox) + 0.5 - half
                var y = Double(oy) + 0.5 - half

                // Undo the flips, then the quarter turns (each turn maps (x, y) to (-y, x)).
                if draw.flipHorizontal { x = -x }
                if draw.flipVertical { y = -y }
                for _ in 0..<draw.quarterTurns { (x, y) = (y, -x) }

                // Undo the shift and zoom, and go back to pixel indices.
                let sx = min(max((x - shiftX) / draw.scale + half - 0.5, 0), Double(size - 1))
                let sy = min(max((y - shiftY) / draw.scale + half - 0.5, 0), Double(size - 1))
                let x0 = Int(sx), y0 = Int(sy)
                let x1 = min(x0 + 1, size - 1), y1 = min(y0 + 1, size - 1)
                let fx = Float(sx - Double(x0)), fy = Float(sy - Double(y0))
                let out = (oy * size + ox) * 3
                for c in 0..<3 {
                    let top = source[(y0 * size + x0) * 3 + c] * (1 - fx) + source[(y0 * size + x1) * 3 + c] * fx
                    let bottom = source[(y1 * size + x0) * 3 + c] * (1 - fx) + source[(y1 * size + x1) * 3 + c] * fx
                    target[out + c] = (top * (1 - fy) + bottom * fy) / 255
                }
            }
        }
    }

    /// Scales brightness, blends towards the mean grey for contrast, rotates hue about
    /// the grey axis (Rodrigues' rotation matrix) and clamps to [0, 1].
    private func adjustColour(_ pixels: UnsafeMutableBufferPointer<Float>, draw: Draw) {
        let count = pixels.count / 3
        var grey = 0.0
        for p in 0..<count {
            grey += Double(0.299 * pixels[p * 3] + 0.587 * pixels[p * 3 + 1] + 0.114 * pixels[p * 3 + 2])
        }
        let meanGrey = Float(grey / Double(count) * draw.brightness)

        let angle = 2 * Double.pi * draw.hueTurns
        let cosine = cos(angle), sine = sin(angle), k = 1 / 3.0.squareRoot()
        let oneMinus = 1 - cosine
        let m: [Float] = [
            cosine + k * k * oneMinus, k * k * oneMinus - k * sine, k * k * oneMinus + k * sine,
            k * k * oneMinus + k * sine, cosine + k * k * oneMinus, k * k * oneMinus - k * sine,
            k * k * oneMinus - k * sine, k * k * oneMinus + k * sine, cosine + k * k * oneMinus,
        ].map { Float($0) }
        let brightness = Float(draw.brightness), contrast = Float(draw.contrast)

        for p in 0..<count {
            var rgb = (pixels[p * 3] * brightness, pixels[p * 3 + 1] * brightness, pixels[p * 3 + 2] * brightness)
            rgb = ((rgb.0 - meanGrey) * contrast + meanGrey, (rgb.1 - meanGrey) * contrast + meanGrey,
                   (rgb.2 - meanGrey) * contrast + meanGrey)
            let r = m[0] * rgb.0 + m[1] * rgb.1 + m[2] * rgb.2
            let g = m[3] * rgb.0 + m[4] * rgb.1 + m[5] * rgb.2
            let b = m[6] * rgb.0 + m[7] * rgb.1 + m[8] * rgb.2
            pixels[p * 3] = min(max(r, 0), 1)
            pixels[p * 3 + 1] = min(max(g, 0), 1)
            pixels[p * 3 + 2] = min(max(b, 0), 1)
        }
    }
}
