import Foundation
import XCTest
import KatechonCheckpoint
import KatechonModel

/// Compares `PositionEmbedding.resample` with timm's `resample_abs_pos_embed` on the
/// grids of scripts/reference/make_vit_fixture.py, with antialias off and on.
final class ViTPositionEmbeddingTests: XCTestCase {
    static let tolerance: Float = 1e-5

    func testResamplingMatchesTimm() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "vit_pos_embed_resample.safetensors",
                                                  withExtension: nil, subdirectory: "Fixtures"))
        let contents = try Safetensors.read(url)
        let tensors = Dictionary(uniqueKeysWithValues: contents.tensors.map { ($0.name, $0) })
        XCTAssertEqual(contents.metadata.count, 3, "grid cases in the fixture")

        for (name, json) in contents.metadata.sorted(by: { $0.key < $1.key }) {
            let grids = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [Int]])
            let old = try XCTUnwrap(grids["old"])
            let new = try XCTUnwrap(grids["new"])
            let input = try XCTUnwrap(tensors["\(name).input"])
            let width = input.shape[2]

            for antialias in [false, true] {
                let expected = try XCTUnwrap(tensors["\(name).antialias_\(antialias)"])
                let actual = PositionEmbedding.resample(input.values, width: width, prefixTokens: 1,
                                                        from: (old[0], old[1]), to: (new[0], new[1]),
                                                        antialias: antialias)
                XCTAssertEqual(actual.count, expected.values.count, "\(name) antialias \(antialias) size")
                let deviation = zip(actual, expected.values).map { abs($0 - $1) }.max() ?? .infinity
                print("pos_embed \(name) \(old) → \(new) antialias \(antialias): largest deviation \(deviation) (tolerance \(Self.tolerance))")
                XCTAssertLessThanOrEqual(deviation, Self.tolerance,
                                         "\(name) \(old) → \(new) antialias \(antialias): largest deviation \(deviation)")
            }
        }
    }
}
