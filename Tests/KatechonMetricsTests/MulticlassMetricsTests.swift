import Foundation
import KatechonMetrics
import XCTest

/// Hand-computed cases and input errors of the multiclass metrics and their report.
final class MulticlassMetricsTests: XCTestCase {
    func testMulticlassHandComputed() throws {
        // Class 0: 2 of 3 right, class 1: 1 of 1 right, class 2: predicted once, never true.
        let labels: [Int32] = [0, 0, 0, 1]
        let predictions: [Int32] = [0, 2, 0, 1]

        XCTAssertEqual(
            try confusionMatrix(labels: labels, predictions: predictions, classCount: 3),
            [[2, 0, 1], [0, 1, 0], [0, 0, 0]])
        XCTAssertEqual(try recall(labels: labels, predictions: predictions, classCount: 3), [2.0 / 3.0, 1, nil])
        XCTAssertEqual(
            try balancedAccuracy(labels: labels, predictions: predictions, classCount: 3),
            (2.0 / 3.0 + 1) / 2)
    }

    func testOutOfRangeClassThrows() {
        XCTAssertThrowsError(try confusionMatrix(labels: [0, 3], predictions: [0, 1], classCount: 3)) { error in
            XCTAssertEqual(
                error as? MetricsError, .classOutOfRange(array: "label", index: 1, value: 3, classCount: 3))
        }
        XCTAssertThrowsError(try balancedAccuracy(labels: [0, 1], predictions: [-1, 1], classCount: 2)) { error in
            XCTAssertEqual(
                error as? MetricsError,
                .classOutOfRange(array: "prediction", index: 0, value: -1, classCount: 2))
        }
        XCTAssertThrowsError(
            try MetricsReport.Multiclass(labels: [0], predictions: [0], classNames: ["nevus", "nevus"])
        ) { error in
            XCTAssertEqual(error as? MetricsError, .duplicateClassName("nevus", firstIndex: 0, secondIndex: 1))
        }
    }

    func testMulticlassReportJSON() throws {
        let metrics = try MetricsReport.Multiclass(
            labels: [0, 0, 0, 1], predictions: [0, 2, 0, 1],
            classNames: ["nevus", "melanoma \"MEL\"", "other"])
        let json = MetricsReport.multiclass(metrics).json
        XCTAssertEqual(
            json,
            #"{"balanced_accuracy": 0.83333333333333326, "#
                + #""recall": {"nevus": 0.66666666666666663, "melanoma \"MEL\"": 1, "other": null}, "#
                + #""confusion": [[2, 0, 1], [0, 1, 0], [0, 0, 0]], "count": 4}"#)

        struct Printed: Decodable {
            let balanced_accuracy: Double
            let recall: [String: Double?]
        }
        let printed = try JSONDecoder().decode(Printed.self, from: Data(json.utf8))
        XCTAssertEqual(printed.balanced_accuracy, metrics.balancedAccuracy)
        XCTAssertEqual(printed.recall["nevus"], metrics.recall[0])
        XCTAssertEqual(printed.recall["other"], .some(nil))
    }
}
