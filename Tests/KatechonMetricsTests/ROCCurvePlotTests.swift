import CPNG
import Foundation
import KatechonMetrics
import XCTest

/// Writes a ROC plot, reads it back with libpng and checks pixels at known rates.
final class ROCCurvePlotTests: XCTestCase {
    /// 50 negatives scored 0.00 ... 0.49 and 50 positives scored 0.30 ... 0.79, so the curve
    /// starts at TPR 0.6, reaches TPR 0.8 at FPR 0.2 and TPR 1 at FPR 0.4.
    let labels: [Int32] = Array(repeating: 0, count: 50) + Array(repeating: 1, count: 50)
    let scores: [Double] = (0..<50).map { Double($0) / 100 } + (0..<50).map { 0.3 + Double($0) / 100 }

    /// A decoded 8-bit RGB image.
    struct DecodedImage {
        let width: Int
        let height: Int
        let pixels: [UInt8]

        func color(x: Int, y: Int) -> ROCCurvePlot.Color {
            let offset = (y * width + x) * 3
            return ROCCurvePlot.Color(red: pixels[offset], green: pixels[offset + 1], blue: pixels[offset + 2])
        }

        /// Returns whether `color` occurs in the 3 by 3 square around (x, y).
        func neighborhood(x: Int, y: Int, contains color: ROCCurvePlot.Color) -> Bool {
            for dy in -1...1 {
                for dx in -1...1 where self.color(x: x + dx, y: y + dy) == color {
                    return true
                }
            }
            return false
        }
    }

    func decodePNG(at url: URL) throws -> DecodedImage {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&image, url.path) != 0 else {
            XCTFail("libpng could not read the header of \(url.path)")
            throw CocoaError(.fileReadCorruptFile)
        }
        image.format = png_uint_32(PNG_FORMAT_RGB)
        let width = Int(image.width)
        let height = Int(image.height)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let finished = pixels.withUnsafeMutableBufferPointer { buffer in
            png_image_finish_read(&image, nil, buffer.baseAddress, png_int_32(width * 3), nil)
        }
        guard finished != 0 else {
            png_image_free(&image)
            XCTFail("libpng could not decode \(url.path)")
            throw CocoaError(.fileReadCorruptFile)
        }
        return DecodedImage(width: width, height: height, pixels: pixels)
    }

    func testPNGFileHeaderAndSize() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("katechon-roc-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try writeROCCurvePNG(labels: labels, scores: scores, to: url, size: 300)

        let bytes = [UInt8](try Data(contentsOf: url))
        XCTAssertGreaterThan(bytes.count, 33)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature")
        XCTAssertEqual(Array(bytes[12..<16]), Array("IHDR".utf8))
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(width, 300)
        XCTAssertEqual(height, 300)
    }

    func testPNGPixelColors() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("katechon-roc-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        let plot = try ROCCurvePlot(labels: labels, scores: scores, size: 512)
        try plot.writePNG(to: url)
        let image = try decodePNG(at: url)
        XCTAssertEqual(image.width, 512)
        XCTAssertEqual(image.height, 512)

        // The file decodes to exactly the rendered raster.
        XCTAssertEqual(image.pixels, plot.renderRGB())

        // The marker row at TPR 0.8, right of where the curve crosses it.
        for fpr in [0.5, 0.7, 0.95] {
            let point = plot.pixel(fpr: fpr, tpr: 0.8)
            XCTAssertEqual(image.color(x: point.x, y: point.y), ROCCurvePlot.markerColor, "marker at FPR \(fpr)")
        }

        // Above the marker and under the curve (TPR 1 from FPR 0.4 on) lies the shaded region.
        let shaded = plot.pixel(fpr: 0.7, tpr: 0.9)
        XCTAssertEqual(image.color(x: shaded.x, y: shaded.y), ROCCurvePlot.shadeColor)

        // Below the marker, away from the diagonal and the curve, the background stays white.
        let background = plot.pixel(fpr: 0.8, tpr: 0.3)
        XCTAssertEqual(image.color(x: background.x, y: background.y), ROCCurvePlot.backgroundColor)

        // The diagonal, the curve, the axes and a tick mark.
        let diagonal = plot.pixel(fpr: 0.6, tpr: 0.6)
        XCTAssertTrue(image.neighborhood(x: diagonal.x, y: diagonal.y, contains: ROCCurvePlot.diagonalColor))
        let curvePoint = plot.pixel(fpr: 0.2, tpr: plot.curve.truePositiveRate(atFalsePositiveRate: 0.2))
        XCTAssertEqual(image.color(x: curvePoint.x, y: curvePoint.y), ROCCurvePlot.curveColor)
        let leftAxis = plot.pixel(fpr: 0, tpr: 0.5)
        XCTAssertEqual(image.color(x: leftAxis.x, y: leftAxis.y), ROCCurvePlot.axisColor)
        let tick = plot.pixel(fpr: 0.2, tpr: 0)
        XCTAssertEqual(image.color(x: tick.x, y: tick.y + 3), ROCCurvePlot.axisColor, "tick below FPR 0.2")
        let betweenTicks = plot.pixel(fpr: 0.25, tpr: 0)
        XCTAssertEqual(image.color(x: betweenTicks.x, y: betweenTicks.y + 3), ROCCurvePlot.backgroundColor)
    }

    func testLabelsDrawnInMargins() throws {
        let plot = try ROCCurvePlot(labels: labels, scores: scores, size: 512)
        let pixels = plot.renderRGB()
        func axisPixels(rows: Range<Int>, columns: Range<Int>) -> Int {
            var count = 0
            for y in rows {
                for x in columns {
                    let offset = (y * plot.size + x) * 3
                    let color = ROCCurvePlot.Color(red: pixels[offset], green: pixels[offset + 1], blue: pixels[offset + 2])
                    if color == ROCCurvePlot.axisColor { count += 1 }
                }
            }
            return count
        }
        let bottomAxis = plot.size - 1 - plot.margin
        // "FPR" under the middle of the x axis, below the tick marks.
        XCTAssertGreaterThan(axisPixels(rows: (bottomAxis + plot.margin / 3 + 1)..<plot.size,
                                        columns: (plot.size / 2 - 20)..<(plot.size / 2 + 20)), 20, "FPR label")
        // The scores line and "TPR" above the plot.
        XCTAssertGreaterThan(axisPixels(rows: 0..<(plot.margin - 1), columns: (plot.size / 4)..<(3 * plot.size / 4)), 50,
                             "AUC and partial AUC text")
        XCTAssertEqual(plot.partialAUC, try partialAUCAboveTPR(labels: labels, scores: scores), accuracy: 0)
    }

    func testTooSmallPlotThrows() {
        XCTAssertThrowsError(try ROCCurvePlot(labels: labels, scores: scores, size: 10)) { error in
            XCTAssertEqual(error as? MetricsError, .invalidPlotSize(10, minimum: ROCCurvePlot.minimumSize))
        }
    }

    func testUnwritablePathThrows() {
        let url = URL(fileURLWithPath: "/nonexistent-katechon-directory/roc.png")
        XCTAssertThrowsError(try writeROCCurvePNG(labels: labels, scores: scores, to: url)) { error in
            guard case let .pngWriteFailed(path, message)? = error as? MetricsError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(path, url.path)
            XCTAssertFalse(message.isEmpty)
        }
    }
}
