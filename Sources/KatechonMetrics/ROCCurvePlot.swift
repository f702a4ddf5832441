import CPNG
import Foundation

/// A square RGB raster of a ROC curve with its partial-AUC region.
///
/// The image shows a white background, axes with tick marks every 0.1 (longer every 0.2), the
/// chance diagonal, the curve and a horizontal marker line at TPR `minTPR`. The partial-AUC
/// region, above the marker and under the curve, is shaded lightly. Small block letters name the
/// axes and give the AUC and partial AUC on top. False positive rate runs left to right and true positive rate
/// bottom to top, both from 0 to 1 over `plotWidth` pixels inside a margin of `margin` pixels.
public struct ROCCurvePlot: Sendable {
    /// An 8-bit RGB colour.
    public struct Color: Equatable, Sendable {
        public let red: UInt8
        public let green: UInt8
        public let blue: UInt8

        public init(red: UInt8, green: UInt8, blue: UInt8) {
            self.red = red
            self.green = green
            self.blue = blue
        }
    }

    public static let backgroundColor = Color(red: 255, green: 255, blue: 255)
    public static let axisColor = Color(red: 0, green: 0, blue: 0)
    public static let diagonalColor = Color(red: 170, green: 170, blue: 170)
    public static let curveColor = Color(red: 31, green: 119, blue: 180)
    public static let markerColor = Color(red: 214, green: 39, blue: 40)
    public static let shadeColor = Color(red: 255, green: 221, blue: 170)

    /// Smallest width and height in pixels that leaves room for margins and a plot area.
    public static let minimumSize = 64

    /// Width and height of the image in pixels.
    public let size: Int

    /// The curve being drawn.
    public let curve: ROCCurve

    /// True positive rate of the marker line and lower edge of the shaded region.
    public let minTPR: Double

    /// Partial AUC above `minTPR`, printed on top of the image.
    public let partialAUC: Double

    /// Pixels between the image border and the axes.
    public var margin: Int { size / 10 }

    /// Pixels from rate 0 to rate 1 along either axis.
    public var plotWidth: Int { size - 1 - 2 * margin }

    /// Builds the ROC curve of `labels` ranked by `scores` for a plot of `size` pixels.
    ///
    /// - Throws: `MetricsError.invalidPlotSize` below ``minimumSize``,
    ///   `MetricsError.invalidMinTPR` unless `0 <= minTPR < 1`, and the errors of ``ROCCurve``.
    public init(labels: [Int32], scores: [Double], size: Int = 512, minTPR: Double = 0.80) throws {
        guard size >= ROCCurvePlot.minimumSize else {
            throw MetricsError.invalidPlotSize(size, minimum: ROCCurvePlot.minimumSize)
        }
        guard minTPR >= 0, minTPR < 1 else {
            throw MetricsError.invalidMinTPR(minTPR)
        }
        self.size = size
        self.minTPR = minTPR
        curve = try ROCCurve(labels: labels, scores: scores)
        partialAUC = try partialAUCAboveTPR(labels: labels, scores: scores, minTPR: minTPR)
    }

    /// Returns the pixel column and row (row 0 at the top) of the point (`fpr`, `tpr`).
    public func pixel(fpr: Double, tpr: Double) -> (x: Int, y: Int) {
        let x = margin + Int((fpr * Double(plotWidth)).rounded())
        let y = size - 1 - margin - Int((tpr * Double(plotWidth)).rounded())
        return (x, y)
    }

    /// Draws the plot and returns its pixels, `size * size * 3` bytes in rows from the top,
    /// each pixel red, green, blue.
    public func renderRGB() -> [UInt8] {
        var canvas = Canvas(size: size, color: ROCCurvePlot.backgroundColor)
        let width = Double(plotWidth)
        let left = Double(margin)
        let bottom = Double(size - 1 - margin)

        // Step 1: shade each column between the marker line and the curve.
        let markerRow = pixel(fpr: 0, tpr: minTPR).y
        for column in margin...(margin + plotWidth) {
            let fpr = Double(column - margin) / width
            let curveRow = pixel(fpr: 0, tpr: curve.truePositiveRate(atFalsePositiveRate: fpr)).y
            if curveRow <= markerRow {
                for row in curveRow...markerRow {
                    canvas.set(x: column, y: row, to: ROCCurvePlot.shadeColor)
                }
            }
        }

        // Step 2: the chance diagonal and the marker line at TPR = minTPR.
        canvas.drawLine(
            from: (left, bottom), to: (left + width, bottom - width), radius: 0,
            color: ROCCurvePlot.diagonalColor)
        canvas.drawLine(
            from: (left, Double(markerRow)), to: (left + width, Double(markerRow)), radius: 0,
            color: ROCCurvePlot.markerColor)

        // Step 3: the curve, thicker for larger images.
        let curveRadius = max(1, size / 256)
        let fprs = curve.falsePositiveRates
        let tprs = curve.truePositiveRates
        for i in 1..<fprs.count {
            let start = pixelCoordinates(fpr: fprs[i - 1], tpr: tprs[i - 1])
            let end = pixelCoordinates(fpr: fprs[i], tpr: tprs[i])
            canvas.drawLine(from: start, to: end, radius: curveRadius, color: ROCCurvePlot.curveColor)
        }

        // Step 4: axes with outward tick marks every 0.1, longer every 0.2.
        canvas.drawLine(from: (left, bottom), to: (left + width, bottom), radius: 0,
                        color: ROCCurvePlot.axisColor)
        canvas.drawLine(from: (left, bottom), to: (left, bottom - width), radius: 0,
                        color: ROCCurvePlot.axisColor)
        for tick in 0...10 {
            let length = Double(tick % 2 == 0 ? margin / 3 : margin / 6)
            let offset = (Double(tick) / 10 * width).rounded()
            canvas.drawLine(from: (left + offset, bottom), to: (left + offset, bottom + length),
                            radius: 0, color: ROCCurvePlot.axisColor)
            canvas.drawLine(from: (left, bottom - offset), to: (left - length, bottom - offset),
                            radius: 0, color: ROCCurvePlot.axisColor)
        }

        // Step 5: labels in the margins: the axes' names and ends, and the scores on top.
        let scale = max(1, size / 200)
        let glyphHeight = 5 * scale
        let labelRow = Int(bottom) + margin / 3 + 2 * scale
        if labelRow + glyphHeight < size {
            canvas.drawText("FPR", centeredAt: size / 2, top: labelRow, scale: scale, color: ROCCurvePlot.axisColor)
            canvas.drawText("0", centeredAt: margin, top: labelRow, scale: scale, color: ROCCurvePlot.axisColor)
            canvas.drawText("1", centeredAt: margin + plotWidth, top: labelRow, scale: scale,
                            color: ROCCurvePlot.axisColor)
        }
        let topRow = margin - glyphHeight - 2 * scale
        if topRow >= 0 {
            canvas.drawText("TPR", centeredAt: margin, top: topRow, scale: scale, color: ROCCurvePlot.axisColor)
        }
        if topRow - glyphHeight - 2 * scale >= 0 {
            let scoresText = String(format: "AUC %.3f  PAUC %.3f", curve.area, partialAUC)
            canvas.drawText(scoresText, centeredAt: size / 2, top: topRow - glyphHeight - 2 * scale,
                            scale: scale, color: ROCCurvePlot.axisColor)
        }
        return canvas.pixels
    }

    /// Draws the plot and writes it as an 8-bit RGB PNG file with libpng's simplified API.
    ///
    /// - Throws: `MetricsError.pngWriteFailed` with libpng's message when writing fails.
    public func writePNG(to url: URL) throws {
        let pixels = renderRGB()
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(size)
        image.height = png_uint_32(size)
        image.format = png_uint_32(PNG_FORMAT_RGB)

        let rowStride = png_int_32(size * 3)
        let written = pixels.withUnsafeBufferPointer { buffer in
            png_image_write_to_file(&image, url.path, 0, buffer.baseAddress, rowStride, nil)
        }
        if written == 0 {
            let message = withUnsafeBytes(of: image.message) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            png_image_free(&image)
            throw MetricsError.pngWriteFailed(path: url.path, message: message)
        }
    }

    /// Returns the unrounded pixel position of a curve point.
    private func pixelCoordinates(fpr: Double, tpr: Double) -> (x: Double, y: Double) {
        let width = Double(plotWidth)
        return (Double(margin) + fpr * width, Double(size - 1 - margin) - tpr * width)
    }
}

/// Draws the ROC curve of `labels` ranked by `scores` into an RGB PNG file of `size` by `size`
/// pixels. ``ROCCurvePlot`` describes what the image shows.
///
/// - Throws: the errors of ``ROCCurvePlot/init(labels:scores:size:minTPR:)`` and
///   ``ROCCurvePlot/writePNG(to:)``.
public func writeROCCurvePNG(labels: [Int32], scores: [Double], to url: URL, size: Int = 512) throws {
    try ROCCurvePlot(labels: labels, scores: scores, size: size).writePNG(to: url)
}

/// A square RGB pixel buffer with clipped drawing.
private struct Canvas {
    let size: Int
    var pixels: [UInt8]

    init(size: Int, color: ROCCurvePlot.Color) {
        self.size = size
        pixels = [UInt8](repeating: 0, count: size * size * 3)
        for offset in stride(from: 0, to: pixels.count, by: 3) {
            pixels[offset] = color.red
            pixels[offset + 1] = color.green
            pixels[offset + 2] = color.blue
        }
    }

    /// Glyphs of a 3 x 5 pixel font, one 3-bit row each from the top, for the characters
    /// the labels use.
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1],
        "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], ".": [0, 0, 0, 0, 2], " ": [0, 0, 0, 0, 0],
        "A": [2, 5, 7, 5, 5], "C": [3, 4, 4, 4, 3], "F": [7, 4, 6, 4, 4], "N": [5, 7, 7, 7, 5],
        "P": [6, 5, 6, 4, 4], "R": [6, 5, 6, 5, 5], "T": [7, 2, 2, 2, 2], "U": [5, 5, 5, 5, 7],
    ]

    /// Writes `text` in the 3 x 5 font, each font pixel a `scale` x `scale` square, centred
    /// on column `center` with its top at row `top`. Characters without a glyph are skipped.
    mutating func drawText(_ text: String, centeredAt center: Int, top: Int, scale: Int,
                           color: ROCCurvePlot.Color) {
        let advance = 4 * scale
        var x = center - (text.count * advance - scale) / 2
        for character in text {
            if let rows = Canvas.glyphs[character] {
                for (row, bits) in rows.enumerated() {
                    for column in 0..<3 where bits & (4 >> UInt8(column)) != 0 {
                        for dy in 0..<scale {
                            for dx in 0..<scale {
                                set(x: x + column * scale + dx, y: top + row * scale + dy, to: color)
                            }
                        }
                    }
                }
            }
            x += advance
        }
    }

    /// Colours one pixel; positions outside the image are ignored.
    mutating func set(x: Int, y: Int, to color: ROCCurvePlot.Color) {
        guard x >= 0, x < size, y >= 0, y < size else { return }
        let offset = (y * size + x) * 3
        pixels[offset] = color.red
        pixels[offset + 1] = color.green
        pixels[offset + 2] = color.blue
    }

    /// Draws a straight line by stamping a square of side `2 * radius + 1` at least every half
    /// pixel along it.
    mutating func drawLine(
        from start: (x: Double, y: Double), to end: (x: Double, y: Double), radius: Int,
        color: ROCCurvePlot.Color
    ) {
        let length = max(abs(end.x - start.x), abs(end.y - start.y))
        let steps = max(1, Int((length * 2).rounded(.up)))
        for step in 0...steps {
            let t = Double(step) / Double(steps)
            let x = Int((start.x + t * (end.x - start.x)).rounded())
            let y = Int((start.y + t * (end.y - start.y)).rounded())
            for dy in -radius...radius {
                for dx in -radius...radius {
                    set(x: x + dx, y: y + dy, to: color)
                }
            }
        }
    }
}
