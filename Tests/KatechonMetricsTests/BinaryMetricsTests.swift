import Foundation
import KatechonMetrics
import XCTest

/// Hand-computed cases and input errors of the binary metrics.
final class BinaryMetricsTests: XCTestCase {
    func testSingleClassThrows() {
        let labels: [Int32] = [1, 1, 1]
        let scores = [0.2, 0.5, 0.9]

        XCTAssertThrowsError(try rocAUC(labels: labels, scores: scores)) { error in
            XCTAssertEqual(error as? MetricsError, .singleClass(label: 1, count: 3))
            let message = String(describing: error)
            XCTAssertTrue(message.contains("only class 1"), message)
            XCTAssertTrue(message.contains("AUC is undefined"), message)
        }
        XCTAssertThrowsError(try partialAUCAboveTPR(labels: [0, 0], scores: [0.1, 0.2])) { error in
            XCTAssertEqual(error as? MetricsError, .singleClass(label: 0, count: 2))
        }
    }

    func testInvalidInputThrows() {
        XCTAssertThrowsError(try rocAUC(labels: [0, 2, 1], scores: [0.1, 0.2, 0.3])) { error in
            XCTAssertEqual(error as? MetricsError, .invalidBinaryLabel(index: 1, value: 2))
        }
        XCTAssertThrowsError(try rocAUC(labels: [0, 1, 1], scores: [0.1, .nan, 0.3])) { error in
            guard case .nonFiniteScore(index: 1, let value)? = error as? MetricsError else {
                return XCTFail("expected a non-finite score error at sample 1, got \(error)")
            }
            XCTAssertTrue(value.isNaN)
        }
        XCTAssertThrowsError(try rocAUC(labels: [0, 1], scores: [0.1])) { error in
            XCTAssertEqual(
                error as? MetricsError,
                .lengthMismatch(metric: "ROC curve", labels: 2, other: "scores", otherCount: 1))
        }
        XCTAssertThrowsError(try rocAUC(labels: [], scores: [])) { error in
            XCTAssertEqual(error as? MetricsError, .empty(metric: "ROC curve"))
        }
        XCTAssertThrowsError(try partialAUCAboveTPR(labels: [0, 1], scores: [0.1, 0.2], minTPR: 1)) { error in
            XCTAssertEqual(error as? MetricsError, .invalidMinTPR(1))
        }
    }

    func testAUCHandComputed() throws {
        // Negative 0.5 outranks positive 0.4, so 3 of 4 pairs are ordered correctly. Above
        // TPR 0.8 the curve runs at FPR 0.5, which leaves 0.5 * 0.2 of partial area.
        let labels: [Int32] = [0, 1, 0, 1]
        let scores = [0.1, 0.4, 0.5, 0.8]
        XCTAssertEqual(try rocAUC(labels: labels, scores: scores), 0.75)
        XCTAssertEqual(try partialAUCAboveTPR(labels: labels, scores: scores), 0.5 * (1 - 0.8), accuracy: 1e-15)

        // A tied positive-negative pair counts one half: pairs (0.3, 0.3) tie, others are won.
        XCTAssertEqual(try rocAUC(labels: [0, 1, 0, 1], scores: [0.1, 0.3, 0.3, 0.9]), 0.875)
    }

    func testPartialAUCWithZeroMinTPRIsFullAUC() throws {
        let labels: [Int32] = [0, 1, 1, 0, 1, 0, 0, 1]
        let scores = [0.3, 0.7, 0.3, 0.6, 0.9, 0.1, 0.8, 0.5]
        let full = try rocAUC(labels: labels, scores: scores)
        let partial = try partialAUCAboveTPR(labels: labels, scores: scores, minTPR: 0)
        XCTAssertEqual(partial, full, accuracy: 1e-15)
    }

    func testTop15SensitivityHandComputed() throws {
        var labels: [Int32] = []
        var scores: [Double] = []
        var patients: [String] = []
        func add(_ patient: String, _ score: Double, _ label: Int32) {
            patients.append(patient)
            scores.append(score)
            labels.append(label)
        }

        // Patient A: 20 lesions scored 0.01 ... 0.20. Positives rank 1st (0.20) and 15th
        // (0.06), both found, and 16th (0.05) and 20th (0.01), both missed: 2 of 4.
        for step in 1...20 {
            let score = Double(step) / 100
            add("A", score, [20, 6, 5, 1].contains(step) ? 1 : 0)
        }

        // Patient B: 3 lesions, fewer than 15, so its positive is found whatever its rank: 1 of 1.
        add("B", 0.9, 0)
        add("B", 0.8, 0)
        add("B", 0.1, 1)

        // Patient C: 14 distinct high scores (one positive, found), then 3 lesions tied at 0.5
        // for the single place left, one of them positive: 1 + 1/3 of 2.
        for step in 0..<14 {
            add("C", 0.99 - Double(step) / 100, step == 0 ? 1 : 0)
        }
        add("C", 0.5, 0)
        add("C", 0.5, 1)
        add("C", 0.5, 0)

        let expected = (2.0 + 1.0 + (1.0 + 1.0 / 3.0)) / 7.0
        let sensitivity = try top15Sensitivity(labels: labels, scores: scores, patientIDs: patients)
        XCTAssertEqual(sensitivity, expected, accuracy: 1e-15)

        // Reversing the rows must not change the result, ties included.
        let reversed = try top15Sensitivity(
            labels: labels.reversed(), scores: scores.reversed(), patientIDs: patients.reversed())
        XCTAssertEqual(reversed, sensitivity)

        // With one patient per lesion every positive is in its own top 15.
        let separate = try top15Sensitivity(
            labels: labels, scores: scores, patientIDs: labels.indices.map { "P\($0)" })
        XCTAssertEqual(separate, 1)
    }

    func testTop15SensitivityInvalidInputThrows() {
        XCTAssertThrowsError(
            try top15Sensitivity(labels: [0, 0], scores: [0.1, 0.2], patientIDs: ["A", "B"])
        ) { error in
            XCTAssertEqual(error as? MetricsError, .noPositives(count: 2))
        }
        XCTAssertThrowsError(
            try top15Sensitivity(labels: [0, 1], scores: [0.1, 0.2], patientIDs: ["A", ""])
        ) { error in
            XCTAssertEqual(error as? MetricsError, .missingPatientID(index: 1))
        }
        XCTAssertThrowsError(
            try top15Sensitivity(labels: [0, 1], scores: [0.1, 0.2], patientIDs: ["A"])
        ) { error in
            XCTAssertEqual(
                error as? MetricsError,
                .lengthMismatch(
                    metric: "top-15 sensitivity", labels: 2, other: "patient ids", otherCount: 1))
        }
    }

    func testBinaryReportJSON() throws {
        let labels: [Int32] = [0, 1, 0, 1]
        let scores = [0.1, 0.4, 0.5, 0.8]
        let withPatients = MetricsReport.binary(
            try MetricsReport.Binary(labels: labels, scores: scores, patientIDs: ["A", "A", "B", "B"]))
        XCTAssertEqual(
            withPatients.json,
            #"{"auc": 0.75, "pauc_tpr80": 0.099999999999999978, "top15_sensitivity": 1, "#
                + #""count": 4, "positives": 2}"#)

        let withoutPatients = MetricsReport.binary(try MetricsReport.Binary(labels: labels, scores: scores))
        XCTAssertEqual(
            withoutPatients.json,
            #"{"auc": 0.75, "pauc_tpr80": 0.099999999999999978, "count": 4, "positives": 2}"#)

        // The printed partial AUC reads back to the same double. JSONDecoder is used because
        // JSONSerialization on Linux returns long numbers as NSDecimalNumber, whose conversion
        // to Double can be off by an ulp.
        struct Printed: Decodable {
            let pauc_tpr80: Double
        }
        let printed = try JSONDecoder().decode(Printed.self, from: Data(withoutPatients.json.utf8))
        let partial = try partialAUCAboveTPR(labels: labels, scores: scores)
        XCTAssertEqual(printed.pauc_tpr80, partial)
    }
}
