import Foundation
import XCTest
import KatechonData

/// The expected pixels written by scripts/reference/make_image_fixture.py.
private struct ImageReference: Decodable {
    struct Decoded: Decodable {
        let file: String
        let width: Int
        let height: Int
        let window: [Int]
        let pixels: [Int]
        let channelSums: [Int]?
    }
    struct Resize: Decodable {
        let file: String
        let size: Int
        let filter: String
        let window: [Int]
        let pixels: [Int]
    }
    let decoded: [Decoded]
    let realWindows: [Decoded]
    let resizes: [Resize]

    static func load() throws -> ImageReference {
        let url = TestPaths.fixtures.appendingPathComponent("images/reference.json")
        return try JSONDecoder().decode(ImageReference.self, from: Data(contentsOf: url))
    }
}

/// Largest absolute difference between a window of `image` and the reference pixels.
private func maxDeviation(_ values: (Int, Int, Int) -> Double, window: [Int], expected: [Int]) -> Double {
    let (x0, y0, w, h) = (window[0], window[1], window[2], window[3])
    var worst = 0.0
    for y in 0..<h {
        for x in 0..<w {
            for c in 0..<3 {
                worst = max(worst, abs(values(x0 + x, y0 + y, c) - Double(expected[(y * w + x) * 3 + c])))
            }
        }
    }
    return worst
}

final class ImageDecoderTests: XCTestCase {
    private func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("images/\(name)")))
    }

    /// Loads one of the real JPEGs the fixture was made from.
    private func realImage(_ name: String) throws -> RGBImage {
        if name.hasPrefix("isic2024-test/") {
            let id = String(name.split(separator: "#")[1])
            return try openImageSource(path: TestPaths.isic2024Images.path).image(for: id)
        }
        let url = TestPaths.sharedData.appendingPathComponent(name)
        return try ImageDecoder.decode([UInt8](Data(contentsOf: url)), id: url.path)
    }

    func testPNGAndJPEGFixturesMatch() throws {
        let reference = try ImageReference.load()
        for item in reference.decoded {
            let image = try ImageDecoder.decode(fixtureBytes(item.file), id: item.file)
            XCTAssertEqual(image.width, item.width, item.file)
            XCTAssertEqual(image.height, item.height, item.file)
            let worst = maxDeviation({ x, y, c in Double(image.pixels[(y * image.width + x) * 3 + c]) },
                                     window: item.window, expected: item.pixels)
            // PNG samples are exact. JPEG decoders may differ by one or two steps where
            // their IDCT or upsampling differs; libjpeg-turbo 2.1.5 against Pillow 13's
            // bundled libjpeg-turbo measured 0.
            let tolerance = item.file.hasSuffix(".png") ? 0.0 : 2.0
            print("decode \(item.file): largest deviation \(worst)")
            XCTAssertLessThanOrEqual(worst, tolerance, "\(item.file): largest deviation \(worst), tolerance \(tolerance)")
        }
    }

    func testRealJPEGsMatchPillow() throws {
        try TestPaths.requireSharedData()
        let reference = try ImageReference.load()
        for item in reference.realWindows {
            let image = try realImage(item.file)
            XCTAssertEqual(image.width, item.width, item.file)
            XCTAssertEqual(image.height, item.height, item.file)
            let worst = maxDeviation({ x, y, c in Double(image.pixels[(y * image.width + x) * 3 + c]) },
                                     window: item.window, expected: item.pixels)
            print("decode \(item.file): largest deviation \(worst)")
            XCTAssertLessThanOrEqual(worst, 2, "\(item.file): largest deviation \(worst), tolerance 2")

            // The whole image: channel means within a quarter step of Pillow's.
            var sums = [0, 0, 0]
            for (i, value) in image.pixels.enumerated() { sums[i % 3] += Int(value) }
            let pixelCount = Double(image.width * image.height)
            for c in 0..<3 {
                let difference = abs(Double(sums[c] - item.channelSums![c])) / pixelCount
                XCTAssertLessThanOrEqual(difference, 0.25, "\(item.file): channel \(c) mean differs by \(difference), tolerance 0.25")
            }
        }
    }

    func testResizeMatchesPillow() throws {
        try TestPaths.requireSharedData()
        let reference = try ImageReference.load()
        // Pillow rounds to 8 bits after each of its two passes and uses 22-bit fixed
        // point weights; Katechon keeps floats, so one step of rounding per pass is allowed.
        let tolerance = 1.0
        for item in reference.resizes {
            let image = try realImage(item.file)
            let filter = ResampleFilter(rawValue: item.filter)!
            var output = [Float](repeating: 0, count: item.size * item.size * 3)
            output.withUnsafeMutableBufferPointer { buffer in
                ImageResampler.resize(image, width: item.size, height: item.size, filter: filter, into: buffer.baseAddress!)
            }
            let worst = maxDeviation({ x, y, c in Double(output[(y * item.size + x) * 3 + c]) },
                                     window: item.window, expected: item.pixels)
            print("resize \(item.file) to \(item.size) with \(item.filter): largest deviation \(worst)")
            XCTAssertLessThanOrEqual(worst, tolerance,
                                     "\(item.file) -> \(item.size) \(item.filter): largest deviation \(worst), tolerance \(tolerance)")
        }
    }

    func testTruncatedJPEGNamesImage() throws {
        let bytes = try fixtureBytes("gradient.jpg")
        assertThrowsMessage(["truncated.jpg", "JPEG"]) {
            _ = try ImageDecoder.decode(Array(bytes.prefix(bytes.count / 2)), id: "truncated.jpg")
        }
    }

    func testWrongCRCPNGNamesImage() throws {
        assertThrowsMessage(["bad_crc.png", "PNG", "CRC"]) {
            _ = try ImageDecoder.decode(fixtureBytes("bad_crc.png"), id: "bad_crc.png")
        }
    }

    func testUnknownFormatNamesImage() throws {
        assertThrowsMessage(["ISIC_X", "neither JPEG nor PNG"]) {
            _ = try ImageDecoder.decode(Array("GIF89a".utf8), id: "ISIC_X")
        }
    }

    func testJPEGEncodeRoundTrip() throws {
        var pixels = [UInt8](repeating: 0, count: 32 * 24 * 3)
        for i in 0..<pixels.count { pixels[i] = UInt8((i * 7) % 200 + 20) }
        let image = RGBImage(width: 32, height: 24, pixels: pixels)
        let smooth = RGBImage(width: 32, height: 24, pixels: [UInt8](repeating: 128, count: 32 * 24 * 3))
        let decoded = try ImageDecoder.decode(ImageDecoder.encodeJPEG(smooth, quality: 95), id: "round trip")
        XCTAssertEqual(decoded.width, 32)
        XCTAssertEqual(decoded.height, 24)
        let worst = zip(decoded.pixels, smooth.pixels).map { abs(Int($0) - Int($1)) }.max()!
        XCTAssertLessThanOrEqual(worst, 1, "flat grey round trip: largest deviation \(worst), tolerance 1")
        XCTAssertNoThrow(try ImageDecoder.decode(ImageDecoder.encodeJPEG(image, quality: 80), id: "noise"))
    }
}
