import Foundation
import XCTest
@testable import KatechonCheckpoint

/// A fresh temporary folder, deleted by `remove()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("katechon-checkpoint-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// A deterministic generator for test values (xorshift64*), independent of the product code.
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed == 0 ? 1 : seed
    }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    /// Returns a float in [-1, 1).
    mutating func nextFloat() -> Float {
        Float(next() >> 40) / Float(1 << 23) - 1
    }

    mutating func values(_ count: Int) -> [Float] {
        (0..<count).map { _ in nextFloat() }
    }
}

/// Returns a small checkpoint with a few tensors of random values.
func makeCheckpoint(seed: UInt64, step: Int = 100) -> Checkpoint {
    var random = TestRandom(seed: seed)
    let manifest = Data(#"{"step":\#(step),"epoch":1,"world_size":2,"rng":[1,2,3]}"#.utf8)
    let tensors = [
        NamedTensor(name: "patch_embed.proj.weight", shape: [16, 3, 4, 4], values: random.values(768)),
        NamedTensor(name: "blocks.0.attn.qkv.weight", shape: [48, 16], values: random.values(768)),
        NamedTensor(name: "head.bias", shape: [2], values: random.values(2)),
        NamedTensor(name: "adam.m.blocks.0.mlp.fc1.weight", shape: [64, 64], values: random.values(4096)),
    ]
    return Checkpoint(manifest: manifest, tensors: tensors)
}

func expectedShapes(of checkpoint: Checkpoint) -> [(name: String, shape: [Int])] {
    checkpoint.tensors.map { (name: $0.name, shape: $0.shape) }
}

/// Asserts that reading `url` throws a `CheckpointError` whose message contains the file
/// path and every string in `fragments`; returns the message.
@discardableResult
func assertReadRejects(_ url: URL, mentioning fragments: [String], _ context: String,
                       file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        let checkpoint = try CheckpointFile.read(url)
        XCTFail("\(context): read succeeded with \(checkpoint.tensors.count) tensors, expected a rejection",
                file: file, line: line)
        return ""
    } catch let error as CheckpointError {
        let message = "\(error)"
        if ProcessInfo.processInfo.environment["KCPT_PRINT_ERRORS"] != nil { print(context, "->", message) }
        XCTAssertTrue(message.contains(url.path), "\(context): message does not name the file: \(message)",
                      file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(message.contains(fragment),
                          "\(context): message lacks \"\(fragment)\": \(message)", file: file, line: line)
        }
        return message
    } catch {
        XCTFail("\(context): threw \(type(of: error)) \(error), expected CheckpointError", file: file, line: line)
        return ""
    }
}

/// Asserts that two tensor lists agree bit for bit, printing the first differing value.
func assertBitwiseEqual(_ actual: [NamedTensor], _ expected: [NamedTensor],
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.map(\.name), expected.map(\.name), "tensor names", file: file, line: line)
    for (read, written) in zip(actual, expected) {
        XCTAssertEqual(read.shape, written.shape, "shape of \(written.name)", file: file, line: line)
        let readBits = read.values.map(\.bitPattern)
        let writtenBits = written.values.map(\.bitPattern)
        if readBits != writtenBits {
            let mismatch = zip(readBits, writtenBits).enumerated().first { $0.element.0 != $0.element.1 }
            let detail = mismatch.map {
                "first difference at index \($0.offset): read bits \(String($0.element.0, radix: 16)), "
                    + "written \(String($0.element.1, radix: 16))"
            } ?? "no difference in the common prefix"
            XCTFail("\(written.name): \(readBits.count) values read, \(writtenBits.count) written; \(detail)",
                    file: file, line: line)
        }
    }
}

func bytes(of url: URL) throws -> [UInt8] {
    Array(try Data(contentsOf: url))
}
