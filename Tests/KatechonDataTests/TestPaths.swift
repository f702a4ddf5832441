import Foundation
import XCTest
import KatechonData

/// Locations of the real ISIC files beside the package and of the committed fixtures.
enum TestPaths {
    /// The package root, three levels above this file.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shared data folder that CI places beside the checkout.
    static let sharedData = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")

    static let isic2024Folder = sharedData.appendingPathComponent("isic2024-test")
    static let isic2024Images = isic2024Folder.appendingPathComponent("test-image.hdf5")
    static let isic2024Metadata = isic2024Folder.appendingPathComponent("test-metadata.csv")
    static let uda1Folder = sharedData.appendingPathComponent("isic-uda1")

    /// The committed fixture folder, read from the source tree so that the test does
    /// not depend on how the resource bundle is laid out.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")


    /// Throws, failing the calling test, when the shared data folder is absent.
    static func requireSharedData() throws {
        guard FileManager.default.fileExists(atPath: isic2024Metadata.path) else {
            throw DataError.unreadableFile(path: sharedData.path,
                                           reason: "the shared ISIC data is missing; place shared/data beside the package")
        }
    }
}

/// Asserts that `body` throws and that the error's message contains every fragment.
func assertThrowsMessage(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                         _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch {
        let message = "\(error)"
        for fragment in fragments {
            XCTAssertTrue(message.contains(fragment), "error message '\(message)' does not mention '\(fragment)'",
                          file: file, line: line)
        }
    }
}

extension XCTestCase {
    /// Creates a fresh temporary folder that is removed when the test ends.
    func makeTemporaryFolder(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("katechon-data-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock {
            try? FileManager.default.removeItem(at: url)
        }
        return url
    }
}
