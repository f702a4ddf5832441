import Foundation
import KatechonCheckpoint
import XCTest

/// Compares the tensors of checkpoints written by the runs under test.
enum TensorComparison {
    /// Reads the tensors of the checkpoint that `RUN_DIR/checkpoints/latest` names.
    static func latestTensors(runDirectory: URL, file: StaticString = #filePath, line: UInt = #line) throws -> [String: NamedTensor] {
        let folder = runDirectory.appendingPathComponent("checkpoints")
        let name = try String(contentsOf: folder.appendingPathComponent("latest"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let checkpoint = try CheckpointFile.read(folder.appendingPathComponent(name))
        return Dictionary(uniqueKeysWithValues: checkpoint.tensors.map { ($0.name, $0) })
    }

    /// Returns the largest absolute difference over every tensor, and where it is.
    static func maxDeviation(_ a: [String: NamedTensor], _ b: [String: NamedTensor],
                             file: StaticString = #filePath, line: UInt = #line) -> (value: Float, name: String) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), "checkpoints hold different tensors", file: file, line: line)
        var worst: (Float, String) = (0, "")
        for (name, left) in a {
            guard let right = b[name] else { continue }
            XCTAssertEqual(left.shape, right.shape, "\(name) shape", file: file, line: line)
            for (x, y) in zip(left.values, right.values) where abs(x - y) > worst.0 || (x.isNaN != y.isNaN) {
                worst = (x.isNaN != y.isNaN ? .infinity : abs(x - y), name)
            }
        }
        return worst
    }

    /// Returns the names of tensors whose bits differ between `a` and `b`.
    static func bitwiseDifferences(_ a: [String: NamedTensor], _ b: [String: NamedTensor]) -> [String] {
        a.keys.sorted().filter { name in
            guard let right = b[name] else { return true }
            return a[name]!.values.map(\.bitPattern) != right.values.map(\.bitPattern)
        }
    }
}
