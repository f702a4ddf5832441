import Foundation
import XCTest
@testable import KatechonCheckpoint

final class CheckpointFileTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws {
        folder = try TemporaryFolder()
    }

    override func tearDown() {
        folder.remove()
    }

    /// Writes a small checkpoint and returns its URL and bytes.
    private func writeSample(name: String = "sample.kcpt") throws -> (URL, [UInt8]) {
        let url = folder.url.appendingPathComponent(name)
        try CheckpointFile.write(makeCheckpoint(seed: 7), to: url)
        return (url, try bytes(of: url))
    }

    private func writeVariant(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = folder.url.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func testRoundTripIsBitExact() throws {
        var random = TestRandom(seed: 42)
        let specialBits: [UInt32] = [
            0x8000_0000,  // -0.0
            0x0000_0000,  // +0.0
            0x7FC0_1234,  // quiet NaN with a payload
            0xFFC0_0001,  // negative quiet NaN with a payload
            0x7F80_0001,  // signalling NaN
            0x7F80_0000,  // +infinity
            0xFF80_0000,  // -infinity
            0x0000_0001,  // smallest subnormal
            0x807F_FFFF,  // largest negative subnormal
            0x7F7F_FFFF,  // largest finite
        ]
        let tensors = [
            NamedTensor(name: "random", shape: [3, 5, 7], values: random.values(105)),
            NamedTensor(name: "empty", shape: [0], values: []),
            NamedTensor(name: "empty.inner", shape: [2, 0, 3], values: []),
            NamedTensor(name: "scalar", shape: [], values: [random.nextFloat()]),
            NamedTensor(name: "special", shape: [specialBits.count],
                        values: specialBits.map(Float.init(bitPattern:))),
            // Longer than one compression chunk, so it is streamed in several calls.
            NamedTensor(name: "long", shape: [KcptFormat.chunkFloats + 12_345],
                        values: random.values(KcptFormat.chunkFloats + 12_345)),
            NamedTensor(name: "ünïcode.名前", shape: [1, 1], values: [1.5]),
        ]
        let manifest = Data(#"{"config":{"backbone":"tiny"},"step":12,"metrics":[0.5,0.75]}"#.utf8)
        let url = folder.url.appendingPathComponent("roundtrip.kcpt")

        let statistics = try CheckpointFile.write(Checkpoint(manifest: manifest, tensors: tensors), to: url)
        let read = try CheckpointFile.read(url)

        XCTAssertEqual(read.manifest, manifest)
        XCTAssertEqual(read.file, url)
        assertBitwiseEqual(read.tensors, tensors)
        XCTAssertEqual(statistics.tensorBytes, 4 * tensors.map(\.values.count).reduce(0, +))
        XCTAssertEqual(statistics.fileBytes, try bytes(of: url).count)
        XCTAssertEqual(try CheckpointFile.readManifest(url), manifest)
    }

    func testEmptyCheckpointRoundTrips() throws {
        let url = folder.url.appendingPathComponent("empty.kcpt")
        try CheckpointFile.write(Checkpoint(manifest: Data(), tensors: []), to: url)

        let read = try CheckpointFile.read(url)

        XCTAssertEqual(read.manifest, Data())
        XCTAssertTrue(read.tensors.isEmpty)
    }

    func testWorkerThreadsWriteReadableFile() throws {
        let checkpoint = makeCheckpoint(seed: 3)
        let url = folder.url.appendingPathComponent("workers.kcpt")

        try CheckpointFile.write(checkpoint, to: url, options: .init(level: 3, workers: 2))

        assertBitwiseEqual(try CheckpointFile.read(url).tensors, checkpoint.tensors)
    }

    func testZstdDecodesTheFile() throws {
        // The format promises that `zstd -d` reads the file and skips the checksum frame.
        let zstd = "/usr/bin/zstd"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: zstd), "zstd command not installed")
        let (url, _) = try writeSample()
        let decoded = folder.url.appendingPathComponent("decoded.bin")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: zstd)
        process.arguments = ["-q", "-d", url.path, "-o", decoded.path]
        try process.run()
        process.waitUntilExit()

        XCTAssertEqual(process.terminationStatus, 0)
        let content = try bytes(of: decoded)
        XCTAssertEqual(Array(content.prefix(4)), Array("KCPT".utf8))
        XCTAssertEqual(Array(content.suffix(16).prefix(4)), Array("KEND".utf8))
    }

    func testTruncatedFilesAreRejected() throws {
        let (url, original) = try writeSample()
        let size = original.count
        let offsets = [0, 1, 3, 4, 6, 12, 200, size / 3, size / 2, size - 25, size - 21,
                       size - 20, size - 12, size - 1]

        for offset in offsets {
            let truncated = try writeVariant("truncated-\(offset).kcpt", Array(original.prefix(offset)))

            assertReadRejects(truncated, mentioning: ["is truncated"], "truncated at \(offset) of \(size)")
            XCTAssertEqual(try bytes(of: truncated).count, offset, "the rejected file was changed")
        }
        XCTAssertEqual(try bytes(of: url), original, "the intact checkpoint was changed")
    }

    func testFlippedBytesAreRejected() throws {
        let (url, original) = try writeSample()
        let size = original.count
        // Offsets 4 and 5 are zstd's frame header descriptor and window descriptor: mask
        // 0x10 flips the unused descriptor bit and 0x04 the content checksum flag, neither
        // of which zstd alone detects. The last 24 bytes are zstd's content checksum and
        // the checksum frame.
        let flips: [(offset: Int, mask: UInt8)] = [
            (4, 0x10), (4, 0x04), (4, 0xFF), (5, 0x01), (5, 0x08), (7, 0x80), (20, 0x01),
            (size / 4, 0x01), (size / 2, 0x40), (3 * size / 4, 0xFF), (size - 30, 0x02),
            (size - 24, 0x01), (size - 21, 0x80), (size - 20, 0x01), (size - 16, 0x01),
            (size - 12, 0x20), (size - 8, 0x01), (size - 1, 0x80),
        ]

        for (offset, mask) in flips {
            var damaged = original
            damaged[offset] ^= mask
            let damagedURL = try writeVariant("flipped-\(offset)-\(mask).kcpt", damaged)

            assertReadRejects(damagedURL, mentioning: ["is corrupted"],
                              "byte \(offset) of \(size) xor \(mask)")
            XCTAssertEqual(try bytes(of: damagedURL), damaged, "the rejected file was changed")
        }
        XCTAssertEqual(try bytes(of: url), original, "the intact checkpoint was changed")
    }

    func testAppendedBytesAreRejected() throws {
        let (_, original) = try writeSample()
        let extended = try writeVariant("extended.kcpt", original + [0, 1, 2])

        assertReadRejects(extended, mentioning: ["is corrupted", "3 unexpected bytes"], "appended bytes")
    }

    func testOtherFilesAreNotCheckpoints() throws {
        let text = try writeVariant("notes.txt", Array("step 100 went fine\n".utf8))
        assertReadRejects(text, mentioning: ["is not a Katechon checkpoint", "zstd frame magic"], "text file")

        // A safetensors file: 8-byte little-endian header length, JSON header, raw data.
        let header = Array(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
        var safetensors: [UInt8] = []
        safetensors.appendLittleEndian(UInt64(header.count))
        safetensors += header + [0, 0, 128, 63]
        let safetensorsURL = try writeVariant("model.safetensors", safetensors)
        assertReadRejects(safetensorsURL, mentioning: ["is not a Katechon checkpoint"], "safetensors file")

        // A zstd stream of other content.
        let otherURL = folder.url.appendingPathComponent("other.zst")
        try writeRawContent(Array("just some text".utf8), to: otherURL)
        assertReadRejects(otherURL, mentioning: ["is not a Katechon checkpoint", "instead of \"KCPT\""],
                          "zstd stream of text")
        XCTAssertThrowsError(try CheckpointFile.readManifest(otherURL))
    }

    func testMissingFileIsReported() throws {
        let missing = folder.url.appendingPathComponent("nowhere.kcpt")
        assertReadRejects(missing, mentioning: ["not found"], "missing file")
    }

    func testOtherVersionIsRejected() throws {
        var content = Array("KCPT".utf8)
        content.appendLittleEndian(UInt32(2))
        content.appendLittleEndian(UInt64(0))
        let url = folder.url.appendingPathComponent("future.kcpt")
        try writeRawContent(content, to: url)

        assertReadRejects(url, mentioning: ["format version 2", "only version 1"], "version 2")
        XCTAssertThrowsError(try CheckpointFile.readManifest(url))
    }

    func testInconsistentTablesAreRejected() throws {
        let cases: [(name: String, content: [UInt8], fragment: String)] = [
            ("short-data", rawContent(shape: [8], floats: 2, endCount: 1), "before the tensor table"),
            ("long-table", rawContent(shape: [4], floats: 2, endCount: 1), "not the end marker"),
            ("bad-dtype", rawContent(shape: [1], floats: 1, endCount: 1, dtype: 7), "dtype code 7"),
            ("end-count", rawContent(shape: [1], floats: 1, endCount: 5), "records tensor count 5"),
            ("extra-content", rawContent(shape: [1], floats: 1, endCount: 1) + [9, 9], "follow the end marker"),
        ]

        for (name, content, fragment) in cases {
            let url = folder.url.appendingPathComponent("\(name).kcpt")
            try writeRawContent(content, to: url)

            assertReadRejects(url, mentioning: ["inconsistent tensor table", fragment], name)
        }
    }

    func testIncompatibleShapesAreNamed() throws {
        let (url, original) = try writeSample()
        let checkpoint = try CheckpointFile.read(url)
        var expected = expectedShapes(of: checkpoint)

        XCTAssertNoThrow(try CheckpointFile.checkCompatible(checkpoint, expected: expected.reversed()))

        expected[1].shape = [16, 48]
        assertIncompatible(checkpoint, expected, ["blocks.0.attn.qkv.weight", "[48, 16] in the checkpoint",
                                                  "[16, 48] in the model", url.path])

        expected = expectedShapes(of: checkpoint) + [(name: "fusion.norm.weight", shape: [16])]
        assertIncompatible(checkpoint, expected, ["fusion.norm.weight is missing", url.path])

        expected = Array(expectedShapes(of: checkpoint).dropLast())
        assertIncompatible(checkpoint, expected, ["adam.m.blocks.0.mlp.fc1.weight", "does not have", url.path])

        XCTAssertEqual(try bytes(of: url), original, "the checkpoint was changed")
    }

    private func assertIncompatible(_ checkpoint: Checkpoint, _ expected: [(name: String, shape: [Int])],
                                    _ fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try CheckpointFile.checkCompatible(checkpoint, expected: expected),
                             line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("incompatible with the model"), message, line: line)
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "message lacks \"\(fragment)\": \(message)", line: line)
            }
        }
    }

    func testDescribeSummarisesTensors() throws {
        let url = folder.url.appendingPathComponent("describe.kcpt")
        let tensors = [
            NamedTensor(name: "a", shape: [2, 2], values: [1, 2, 3, 6]),
            NamedTensor(name: "b", shape: [3], values: [-1, .nan, 1]),
        ]
        try CheckpointFile.write(Checkpoint(manifest: Data(#"{"step":5,"epoch":2}"#.utf8), tensors: tensors),
                                 to: url)

        let text = try CheckpointFile.describe(url)

        XCTAssertTrue(text.contains("\"step\" : 5"), text)
        let lineA = text.split(separator: "\n").first { $0.hasPrefix("a ") }.map(String.init) ?? ""
        XCTAssertEqual(lineA.split(separator: " ", omittingEmptySubsequences: true).suffix(4),
                       ["4", "1", "6", "3"], "line of a: \(lineA)")
        let lineB = text.split(separator: "\n").first { $0.hasPrefix("b ") }.map(String.init) ?? ""
        XCTAssertTrue(lineB.contains("(1 NaN)"), lineB)
        XCTAssertTrue(text.contains("total: 7 values, 28 bytes raw"), text)
    }

    func testMeasurementReportsSizes() throws {
        let result = try measureCheckpointWrite(parameterCount: 300_000, directory: folder.url)

        XCTAssertEqual(result.rawBytes, 1_200_000)
        XCTAssertGreaterThan(result.compressedBytes, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.url.path), [],
                       "the measurement left its file behind")
        print("measureCheckpointWrite: \(result.rawBytes) raw bytes, \(result.compressedBytes) compressed, "
            + "\(result.seconds) s")
    }

    // MARK: - Hand-made content

    /// Writes `content` as a data frame plus checksum frame, as the product writer does.
    private func writeRawContent(_ content: [UInt8], to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        let writer = try ZstdFileWriter(file: url, descriptor: descriptor, options: .init())
        try writer.write(content)
        try writer.finish()
    }

    /// Content with one tensor "t" of `shape`, `floats` values, and an end marker recording
    /// `endCount` tensors.
    private func rawContent(shape: [Int], floats: Int, endCount: UInt32, dtype: UInt32 = 1) -> [UInt8] {
        var content = Array("KCPT".utf8)
        content.appendLittleEndian(UInt32(1))
        content.appendLittleEndian(UInt64(2))
        content += Array("{}".utf8)
        content.appendLittleEndian(UInt32(1))
        content.appendLittleEndian(UInt32(1))
        content += Array("t".utf8)
        content.appendLittleEndian(dtype)
        content.appendLittleEndian(UInt32(shape.count))
        for dimension in shape {
            content.appendLittleEndian(UInt64(dimension))
        }
        for index in 0..<floats {
            content.appendLittleEndian(Float(index).bitPattern)
        }
        let contentBeforeEnd = content.count
        content += Array("KEND".utf8)
        content.appendLittleEndian(endCount)
        content.appendLittleEndian(UInt64(contentBeforeEnd))
        return content
    }
}
