import Foundation
import XCTest
import KatechonData

final class PreprocessingTests: XCTestCase {
    private func sampleImage() throws -> RGBImage {
        let bytes = [UInt8](try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("images/gradient.jpg")))
        return try ImageDecoder.decode(bytes, id: "gradient.jpg")
    }

    private func process(_ image: RGBImage, _ preprocessor: ImagePreprocessor, augment: Bool,
                         seed: UInt64 = 7, epoch: Int = 0, index: Int = 0) -> [Float] {
        let size = preprocessor.imageSize
        var output = [Float](repeating: .nan, count: 3 * size * size)
        output.withUnsafeMutableBufferPointer { buffer in
            preprocessor.process(image, augment: augment, seed: seed, epoch: epoch, index: index, into: buffer.baseAddress!)
        }
        return output
    }

    func testPlainPathIsResizeAndNormalise() throws {
        let image = try sampleImage()
        let preprocessor = ImagePreprocessor(imageSize: 20, mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3])
        let output = process(image, preprocessor, augment: false)
        var resized = [Float](repeating: 0, count: 20 * 20 * 3)
        resized.withUnsafeMutableBufferPointer {
            ImageResampler.resize(image, width: 20, height: 20, filter: .bilinear, into: $0.baseAddress!)
        }
        var worst: Float = 0
        for c in 0..<3 {
            for p in 0..<400 {
                let expected = (resized[p * 3 + c] / 255 - preprocessor.mean[c]) / preprocessor.std[c]
                worst = max(worst, abs(output[c * 400 + p] - expected))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-5, "CHW normalisation: largest deviation \(worst), tolerance 1e-5")
    }

    func testAugmentationIsDeterministicPerSample() throws {
        let image = try sampleImage()
        let preprocessor = ImagePreprocessor(imageSize: 24)
        let first = process(image, preprocessor, augment: true, seed: 3, epoch: 2, index: 17)
        XCTAssertEqual(process(image, preprocessor, augment: true, seed: 3, epoch: 2, index: 17), first)
        XCTAssertNotEqual(process(image, preprocessor, augment: true, seed: 3, epoch: 3, index: 17), first)
        XCTAssertNotEqual(process(image, preprocessor, augment: true, seed: 3, epoch: 2, index: 18), first)
        XCTAssertNotEqual(process(image, preprocessor, augment: true, seed: 4, epoch: 2, index: 17), first)
        XCTAssertGreaterThanOrEqual(first.min()!, -1, "colour jitter clamps to [0, 1] before normalising")
        XCTAssertLessThanOrEqual(first.max()!, 1, "colour jitter clamps to [0, 1] before normalising")
    }

    func testDatasetAugmentationIgnoresBatchComposition() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(contentsOf: TestPaths.isic2024Metadata)
        let schema = try MetadataSchema.fit(table: table, trainingRows: [0, 1, 2], categorical: ["sex"], numeric: [])
        let data = try LesionDataset(table: table, images: openImageSource(path: TestPaths.isic2024Images.path),
                                     labelSpec: nil, schema: schema, preprocessor: ImagePreprocessor(imageSize: 16))
        let alone = try data.batch(indices: [1], imageSize: 16, augment: true, epoch: 5, seed: 11)
        let mixed = try data.batch(indices: [2, 0, 1], imageSize: 16, augment: true, epoch: 5, seed: 11)
        XCTAssertEqual(Array(mixed.pixels[(2 * 768)...]), alone.pixels)
    }

    /// With only flips or only quarter turns enabled, every output pixel centre lands
    /// on a source pixel centre, so the result is an exact mirror or rotation.
    func testGeometricAugmentationsAreExactSymmetries() throws {
        let image = try sampleImage()
        var settings = AugmentationSettings()
        settings.maxShift = 0
        settings.maxScale = 0
        settings.brightness = 0
        settings.contrast = 0
        settings.hue = 0
        let size = 12
        let plain = process(image, ImagePreprocessor(imageSize: size), augment: false)

        func transformed(_ map: (Int, Int) -> (Int, Int)) -> [Float] {
            var output = plain
            for c in 0..<3 {
                for y in 0..<size {
                    for x in 0..<size {
                        let (sx, sy) = map(x, y)
                        output[(c * size + y) * size + x] = plain[(c * size + sy) * size + sx]
                    }
                }
            }
            return output
        }
        let last = size - 1
        let mirrors = [transformed { ($0, $1) }, transformed { (last - $0, $1) },
                       transformed { ($0, last - $1) }, transformed { (last - $0, last - $1) }]
        let rotations = [transformed { ($0, $1) }, transformed { ($1, last - $0) },
                         transformed { (last - $0, last - $1) }, transformed { (last - $1, $0) }]

        for (name, flips, turns, candidates) in [("flips", true, false, mirrors), ("rotations", false, true, rotations)] {
            settings.flips = flips
            settings.rotate90 = turns
            let preprocessor = ImagePreprocessor(imageSize: size, augmentation: settings)
            var used = Set<Int>()
            for index in 0..<40 {
                let output = process(image, preprocessor, augment: true, index: index)
                let match = candidates.firstIndex { candidate in
                    zip(candidate, output).allSatisfy { abs($0 - $1) <= 1e-5 }
                }
                XCTAssertNotNil(match, "\(name): sample \(index) is none of the four exact transforms")
                if let match { used.insert(match) }
            }
            XCTAssertEqual(used.count, 4, "\(name): 40 samples should use all four transforms, used \(used.sorted())")
        }
    }
}
