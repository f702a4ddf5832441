import Foundation
import KatechonMetrics
import XCTest

/// Compares the metrics with scikit-learn 1.9 values stored by
/// scripts/reference/make_metrics_fixture.py.
final class MetricsFixtureTests: XCTestCase {
    struct Fixture: Decodable {
        let sklearnVersion: String
        let binary: [BinaryCase]
        let multiclass: [MulticlassCase]
    }

    struct BinaryCase: Decodable {
        let name: String
        let labels: [Int32]
        let scores: [Double]
        let auc: Double
        let paucTpr80: Double
        let rocFpr: [Double]
        let rocTpr: [Double]
    }

    struct MulticlassCase: Decodable {
        let name: String
        let classCount: Int
        let labels: [Int32]
        let predictions: [Int32]
        let balancedAccuracy: Double
        let recall: [Double?]
        let confusion: [[Int]]
    }

    static let tolerance = 1e-9

    func loadFixture() throws -> Fixture {
        let url = try XCTUnwrap(
            Bundle.module.url(forResource: "metrics_fixture", withExtension: "json", subdirectory: "Fixtures"),
            "metrics_fixture.json is missing; run scripts/reference/make_metrics_fixture.py")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Fixture.self, from: Data(contentsOf: url))
    }

    func testBinaryCasesMatchScikitLearn() throws {
        let fixture = try loadFixture()
        XCTAssertGreaterThanOrEqual(fixture.binary.count, 8)

        var largestAUCDeviation = 0.0
        var largestPartialDeviation = 0.0
        for testCase in fixture.binary {
            let auc = try rocAUC(labels: testCase.labels, scores: testCase.scores)
            let partial = try partialAUCAboveTPR(labels: testCase.labels, scores: testCase.scores)
            let aucDeviation = abs(auc - testCase.auc)
            let partialDeviation = abs(partial - testCase.paucTpr80)
            largestAUCDeviation = max(largestAUCDeviation, aucDeviation)
            largestPartialDeviation = max(largestPartialDeviation, partialDeviation)

            XCTAssertLessThanOrEqual(
                aucDeviation, Self.tolerance,
                "\(testCase.name): AUC \(auc), scikit-learn \(testCase.auc)")
            XCTAssertLessThanOrEqual(
                partialDeviation, Self.tolerance,
                "\(testCase.name): partial AUC \(partial), reference \(testCase.paucTpr80)")
            XCTAssert((0...0.2).contains(partial), "\(testCase.name): partial AUC \(partial) outside 0...0.2")
        }
        print("binary fixture (scikit-learn \(fixture.sklearnVersion)): largest AUC deviation "
              + "\(largestAUCDeviation), largest partial AUC deviation \(largestPartialDeviation), "
              + "tolerance \(Self.tolerance)")
    }

    func testROCCurvePointsMatchScikitLearn() throws {
        let fixture = try loadFixture()
        var largestDeviation = 0.0
        for testCase in fixture.binary {
            let curve = try ROCCurve(labels: testCase.labels, scores: testCase.scores)
            XCTAssertEqual(
                curve.falsePositiveRates.count, testCase.rocFpr.count,
                "\(testCase.name): number of ROC points")
            guard curve.falsePositiveRates.count == testCase.rocFpr.count else { continue }

            for i in testCase.rocFpr.indices {
                largestDeviation = max(
                    largestDeviation,
                    abs(curve.falsePositiveRates[i] - testCase.rocFpr[i]),
                    abs(curve.truePositiveRates[i] - testCase.rocTpr[i]))
            }
        }
        print("ROC points: largest deviation \(largestDeviation), tolerance \(Self.tolerance)")
        XCTAssertLessThanOrEqual(largestDeviation, Self.tolerance)
    }

    func testMulticlassCasesMatchExactly() throws {
        let fixture = try loadFixture()
        XCTAssertGreaterThanOrEqual(fixture.multiclass.count, 4)

        var largestDeviation = 0.0
        for testCase in fixture.multiclass {
            let matrix = try confusionMatrix(
                labels: testCase.labels, predictions: testCase.predictions, classCount: testCase.classCount)
            let recalls = try recall(
                labels: testCase.labels, predictions: testCase.predictions, classCount: testCase.classCount)
            let balanced = try balancedAccuracy(
                labels: testCase.labels, predictions: testCase.predictions, classCount: testCase.classCount)
            largestDeviation = max(largestDeviation, abs(balanced - testCase.balancedAccuracy))

            XCTAssertEqual(matrix, testCase.confusion, "\(testCase.name): confusion matrix")
            XCTAssertEqual(recalls, testCase.recall, "\(testCase.name): recall per class")
            XCTAssertEqual(
                balanced, testCase.balancedAccuracy,
                "\(testCase.name): balanced accuracy differs by \(balanced - testCase.balancedAccuracy)")
        }
        print("multiclass fixture: largest balanced accuracy deviation \(largestDeviation), tolerance 0")
    }
}
