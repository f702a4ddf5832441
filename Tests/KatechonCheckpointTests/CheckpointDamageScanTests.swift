import Foundation
import XCTest
@testable import KatechonCheckpoint

/// Damages a small checkpoint at every byte offset: each damaged file must be rejected with
/// a `CheckpointError` naming it, never read as valid and never crash the reader.
final class CheckpointDamageScanTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws {
        folder = try TemporaryFolder()
    }

    override func tearDown() {
        folder.remove()
    }

    private func writeSmallCheckpoint() throws -> [UInt8] {
        var random = TestRandom(seed: 99)
        let tensors = [
            NamedTensor(name: "pos_embed", shape: [1, 5, 8], values: random.values(40)),
            NamedTensor(name: "cls_token", shape: [1, 1, 8], values: random.values(8)),
            NamedTensor(name: "zeros", shape: [64], values: [Float](repeating: 0, count: 64)),
        ]
        let url = folder.url.appendingPathComponent("small.kcpt")
        try CheckpointFile.write(Checkpoint(manifest: Data(#"{"step":3}"#.utf8), tensors: tensors), to: url)
        return try bytes(of: url)
    }

    /// Reads `damaged` from a file and returns the error message, or nil if it was accepted.
    private func rejection(of damaged: [UInt8]) throws -> String? {
        let url = folder.url.appendingPathComponent("damaged.kcpt")
        try Data(damaged).write(to: url)
        do {
            _ = try CheckpointFile.read(url)
            return nil
        } catch let error as CheckpointError {
            let message = "\(error)"
            XCTAssertTrue(message.contains(url.path), message)
            return message
        }
    }

    func testEveryTruncationIsRejected() throws {
        let original = try writeSmallCheckpoint()

        var accepted: [Int] = []
        var misreported: [String] = []
        for length in 0..<original.count {
            guard let message = try rejection(of: Array(original.prefix(length))) else {
                accepted.append(length)
                continue
            }
            if !message.contains("is truncated") {
                misreported.append("length \(length): \(message)")
            }
        }

        XCTAssertEqual(accepted, [], "truncated lengths read as valid, file of \(original.count) bytes")
        XCTAssertEqual(misreported, [], "truncations not reported as truncated")
    }

    func testEveryFlippedByteIsRejected() throws {
        let original = try writeSmallCheckpoint()

        var accepted: [String] = []
        var misreported: [String] = []
        for offset in 0..<original.count {
            for mask: UInt8 in [1 << UInt8(offset % 8), 0xFF] {
                var damaged = original
                damaged[offset] ^= mask
                guard let message = try rejection(of: damaged) else {
                    accepted.append("offset \(offset) xor \(mask)")
                    continue
                }
                // Flips in the first four bytes break the zstd magic, so the file is no
                // longer recognisable as a checkpoint.
                let expected = offset < 4 ? "is not a Katechon checkpoint" : "is corrupted"
                if !message.contains(expected) {
                    misreported.append("offset \(offset) xor \(mask): \(message)")
                }
            }
        }

        XCTAssertEqual(accepted, [], "flipped bytes read as valid, file of \(original.count) bytes")
        XCTAssertEqual(misreported, [], "flips not reported as expected")
    }
}
