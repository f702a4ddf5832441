import Foundation
import XCTest
import KatechonData

final class ImageSourceTests: XCTestCase {
    func testReadsISIC2024HDF5() throws {
        try TestPaths.requireSharedData()
        let source = try openImageSource(path: TestPaths.isic2024Images.path)
        XCTAssertEqual(source.ids, ["ISIC_0015657", "ISIC_0015729", "ISIC_0015740"])
        for id in source.ids {
            let image = try source.image(for: id)
            XCTAssertEqual(image.width, image.height, "ISIC 2024 crops are square")
            XCTAssertTrue((119...141).contains(image.width), "\(id) is \(image.width) px wide")
        }
    }

    func testHDF5LayoutsRoundTrip() throws {
        let folder = try makeTemporaryFolder("hdf5")
        let path = folder.appendingPathComponent("images.hdf5").path
        let jpeg = [UInt8](try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("images/gradient.jpg")))
        let writer = try HDF5ImageWriter(path: path)
        try writer.add("ISIC_A", bytes: jpeg, layout: .fixedString)
        try writer.add("ISIC_B", bytes: jpeg, layout: .opaque)
        try writer.add("ISIC_C", bytes: jpeg, layout: .uint8Array)
        try writer.close()

        let source = try openImageSource(path: path)
        XCTAssertEqual(source.ids, ["ISIC_A", "ISIC_B", "ISIC_C"])
        for id in source.ids {
            XCTAssertEqual(try source.encodedImage(for: id), jpeg, id)
        }
        XCTAssertEqual(try source.image(for: "ISIC_C").width, 40)
    }

    func testH5pyLayoutsReadBack() throws {
        let jpeg = [UInt8](try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("images/gradient.jpg")))
        let source = try openImageSource(path: TestPaths.fixtures.appendingPathComponent("images/layouts.hdf5").path)
        XCTAssertEqual(source.ids, ["ISIC_ARRAY", "ISIC_FIXED", "ISIC_OPAQUE", "ISIC_TEXT", "ISIC_VLEN"])
        for id in ["ISIC_ARRAY", "ISIC_FIXED", "ISIC_OPAQUE", "ISIC_VLEN"] {
            XCTAssertEqual(try source.encodedImage(for: id), jpeg, id)
        }
        XCTAssertEqual(try source.encodedImage(for: "ISIC_TEXT"), Array("not an image".utf8))
        assertThrowsMessage(["ISIC_TEXT", "layouts.hdf5", "neither JPEG nor PNG"]) {
            _ = try source.image(for: "ISIC_TEXT")
        }
    }

    func testMissingImageNamesID() throws {
        try TestPaths.requireSharedData()
        let source = try openImageSource(path: TestPaths.isic2024Images.path)
        assertThrowsMessage(["ISIC_9999999", "test-image.hdf5"]) {
            _ = try source.image(for: "ISIC_9999999")
        }
        let folder = try openImageSource(path: TestPaths.uda1Folder.path)
        assertThrowsMessage(["ISIC_9999999", "isic-uda1"]) {
            _ = try folder.image(for: "ISIC_9999999")
        }
    }

    func testTruncatedHDF5NamesFile() throws {
        try TestPaths.requireSharedData()
        let bytes = try Data(contentsOf: TestPaths.isic2024Images)
        let url = try makeTemporaryFolder("truncated").appendingPathComponent("cut.hdf5")
        try bytes.prefix(bytes.count / 2).write(to: url)
        assertThrowsMessage([url.path, "HDF5", "truncated"]) {
            _ = try openImageSource(path: url.path)
        }
    }

    func testTruncatedJPEGInHDF5NamesID() throws {
        let folder = try makeTemporaryFolder("hdf5-bad")
        let path = folder.appendingPathComponent("images.hdf5").path
        let jpeg = [UInt8](try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("images/gradient.jpg")))
        let writer = try HDF5ImageWriter(path: path)
        try writer.add("ISIC_CUT", bytes: Array(jpeg.prefix(jpeg.count * 2 / 3)))
        try writer.close()
        let source = try openImageSource(path: path)
        assertThrowsMessage(["ISIC_CUT", "images.hdf5", "JPEG"]) {
            _ = try source.image(for: "ISIC_CUT")
        }
    }

    func testConcurrentReadsAgree() throws {
        try TestPaths.requireSharedData()
        let source = try openImageSource(path: TestPaths.isic2024Images.path)
        let expected = try source.ids.map { try source.image(for: $0) }
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 24)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            let id = source.ids[i % 3]
            results[i] = (try? source.image(for: id)) == expected[i % 3]
        }
        XCTAssertEqual(results.filter { $0 }.count, 24, "every concurrent read returns the same pixels")
    }

    func testFolderSourceReadsUDA1() throws {
        try TestPaths.requireSharedData()
        let source = try openImageSource(path: TestPaths.uda1Folder.path)
        XCTAssertEqual(source.ids.count, 440)
        let image = try source.image(for: "ISIC_0000004")
        XCTAssertEqual(image.width, 250)
    }
}
