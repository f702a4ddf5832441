import Foundation
import XCTest
import KatechonCheckpoint

final class SafetensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("katechon-safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    /// Builds a file from a JSON header and raw data bytes, as another writer would.
    private func makeFile(_ name: String, header: String, data: [UInt8], headerLength: UInt64? = nil) throws -> URL {
        let url = directory.appendingPathComponent(name)
        var bytes: [UInt8] = []
        let headerBytes = Array(header.utf8)
        withUnsafeBytes(of: (headerLength ?? UInt64(headerBytes.count)).littleEndian) { bytes += $0 }
        bytes += headerBytes + data
        try Data(bytes).write(to: url)
        return url
    }

    private func assertRejected(_ url: URL, mentioning words: [String],
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.read(url), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(error is SafetensorsError, message, file: file, line: line)
            for word in words {
                XCTAssertTrue(message.contains(word), "message lacks \(word): \(message)", file: file, line: line)
            }
        }
    }

    func testRoundTrip() throws {
        let tensors = [
            NamedTensor(name: "blocks.0.attn.qkv.weight", shape: [2, 3], values: [1, -2, 3.5, 0, .pi, -1e-30]),
            NamedTensor(name: "scalar", shape: [], values: [42]),
            NamedTensor(name: "empty", shape: [0, 4], values: []),
            NamedTensor(name: "name with \"quotes\" and ü", shape: [1], values: [-0.0]),
        ]
        let url = directory.appendingPathComponent("round.safetensors")
        try Safetensors.write(tensors, metadata: ["isic_ids": "[\"ISIC_1\"]", "format": "pt"], to: url)
        let contents = try Safetensors.read(url)
        XCTAssertEqual(contents.tensors, tensors, "tensors come back in data order")
        XCTAssertEqual(contents.metadata, ["isic_ids": "[\"ISIC_1\"]", "format": "pt"])

        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0, "data starts 8-byte aligned")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        XCTAssertEqual(leftovers, ["round.safetensors"], "no temporary file remains")
    }

    func testWriteReplacesExistingFile() throws {
        let url = directory.appendingPathComponent("replace.safetensors")
        try Safetensors.write([NamedTensor(name: "a", shape: [1], values: [1])], to: url)
        try Safetensors.write([NamedTensor(name: "b", shape: [2], values: [2, 3])], to: url)
        XCTAssertEqual(try Safetensors.read(url).tensors, [NamedTensor(name: "b", shape: [2], values: [2, 3])])
    }

    func testHalfPrecisionDecodes() throws {
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800, smallest subnormal 2^-24 = 0x0001.
        // BF16: 1.0 = 0x3F80, -3.0 = 0xC040, 2^-100 = 0x0D80.
        let header = #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]}}"#
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38, 0x01, 0x00, 0x80, 0x3F, 0x40, 0xC0, 0x80, 0x0D]
        let contents = try Safetensors.read(try makeFile("half.safetensors", header: header, data: data))
        XCTAssertEqual(contents.tensors.map(\.name), ["h", "b"])
        XCTAssertEqual(contents.tensors[0].values, [1, -2, 0.5, 0x1p-24])
        XCTAssertEqual(contents.tensors[1].values, [1, -3, 0x1p-100])
        XCTAssertEqual(contents.metadata, [:])
    }

    func testTruncatedFileIsRejected() throws {
        let url = try makeFile("short.safetensors", header: "", data: [], headerLength: nil)
        try Data([1, 2, 3]).write(to: url)
        assertRejected(url, mentioning: ["short.safetensors", "8-byte"])
    }

    func testHeaderLengthBeyondFileIsRejected() throws {
        let url = try makeFile("long.safetensors", header: "{}", data: [], headerLength: 1000)
        assertRejected(url, mentioning: ["long.safetensors", "1000"])
    }

    func testInvalidJSONIsRejected() throws {
        let url = try makeFile("json.safetensors", header: #"{"a": {"dtype": "F32""#, data: [])
        assertRejected(url, mentioning: ["json.safetensors", "JSON"])
    }

    func testUnknownDtypeIsRejected() throws {
        let header = #"{"counts":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        let url = try makeFile("dtype.safetensors", header: header, data: [UInt8](repeating: 0, count: 8))
        assertRejected(url, mentioning: ["dtype.safetensors", "counts", "I64"])
    }

    func testOffsetsOutOfRangeAreRejected() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let url = try makeFile("range.safetensors", header: header, data: [0, 0, 0, 0])
        assertRejected(url, mentioning: ["range.safetensors", "tensor w", "[0, 8]"])
    }

    func testSizeNotMatchingShapeIsRejected() throws {
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        let url = try makeFile("size.safetensors", header: header, data: [UInt8](repeating: 0, count: 12))
        assertRejected(url, mentioning: ["size.safetensors", "tensor w", "needs 12"])
    }

    func testOverlappingTensorsAreRejected() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let url = try makeFile("overlap.safetensors", header: header, data: [UInt8](repeating: 0, count: 12))
        assertRejected(url, mentioning: ["overlap.safetensors", "tensor b", "overlap tensor a"])
    }

    func testMalformedShapeAndMetadataAreRejected() throws {
        let shape = #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#
        assertRejected(try makeFile("shape.safetensors", header: shape, data: [0, 0, 0, 0]),
                       mentioning: ["shape.safetensors", "tensor w", "shape"])
        let metadata = #"{"__metadata__":{"n":3}}"#
        assertRejected(try makeFile("meta.safetensors", header: metadata, data: []),
                       mentioning: ["meta.safetensors", "__metadata__", "n"])
    }

    func testDuplicateNamesAreRejectedOnWrite() {
        let url = directory.appendingPathComponent("dup.safetensors")
        let tensor = NamedTensor(name: "a", shape: [1], values: [1])
        XCTAssertThrowsError(try Safetensors.write([tensor, tensor], to: url)) { error in
            XCTAssertTrue("\(error)".contains("tensor a"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }
}
