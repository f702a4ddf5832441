import Foundation
import XCTest
import KatechonData

final class SyntheticISICTests: XCTestCase {
    /// ROC AUC by the Mann-Whitney statistic, ties counted half.
    private func auc(scores: [Double], labels: [Int32]) -> Double {
        var wins = 0.0, pairs = 0.0
        for (i, label) in labels.enumerated() where label == 1 {
            for (j, other) in labels.enumerated() where other == 0 {
                pairs += 1
                if scores[i] > scores[j] { wins += 1 } else if scores[i] == scores[j] { wins += 0.5 }
            }
        }
        return wins / pairs
    }

    func testWritesReadableLearnableData() throws {
        let folder = try makeTemporaryFolder("synth")
        let summary = try SyntheticISIC.write(to: folder, lesions: 400, patients: 80, positiveRate: 0.1, seed: 5)
        XCTAssertGreaterThan(summary.positives, 10)

        let table = try CSVTable(contentsOf: summary.metadataURL)
        XCTAssertEqual(table.columns, SyntheticISIC.columns)
        XCTAssertEqual(table.rowCount, 400)
        let label = try LabelSpec.make(column: "target", table: table)
        let columns = MetadataSchema.defaultColumns(for: table, label: "target")
        XCTAssertEqual(columns.categorical.count, 6)
        XCTAssertFalse(columns.numeric.contains("mel_thick_mm"))
        let schema = try MetadataSchema.fit(table: table, trainingRows: Array(0..<400),
                                            categorical: columns.categorical, numeric: columns.numeric)
        let data = try LesionDataset(table: table, images: openImageSource(path: summary.imagesURL.path),
                                     labelSpec: label, schema: schema, preprocessor: ImagePreprocessor(imageSize: 32))
        XCTAssertEqual(data.count, 400)
        XCTAssertEqual(data.labels.filter { $0 == 1 }.count, summary.positives)
        XCTAssertLessThan(Set(data.groups).count, 400, "patients have several lesions")
        XCTAssertTrue(try table.numericColumn("age_approx").contains(where: { $0 == nil }) ||
                      (try table.column("sex")).contains(where: { $0 == nil }), "some age or sex cells are missing")

        // Metadata signal: the lesion diameter alone.
        let sizes = try table.numericColumn("clin_size_long_diam_mm").map { $0 ?? 0 }
        let metadataAUC = auc(scores: sizes, labels: data.labels)

        // Image signal: how much darker the centre of the decoded crop is than its
        // corners (the skin), in the green channel.
        var darkness: [Double] = []
        for id in data.ids {
            let image = try data.images.image(for: id)
            let n = image.width
            func meanGreen(_ xs: Range<Int>, _ ys: Range<Int>) -> Double {
                var sum = 0.0
                for y in ys {
                    for x in xs { sum += Double(image.pixels[(y * n + x) * 3 + 1]) }
                }
                return sum / Double(xs.count * ys.count)
            }
            let centre = meanGreen((n / 4)..<(3 * n / 4), (n / 4)..<(3 * n / 4))
            let corners = (meanGreen(0..<8, 0..<8) + meanGreen((n - 8)..<n, 0..<8)
                + meanGreen(0..<8, (n - 8)..<n) + meanGreen((n - 8)..<n, (n - 8)..<n)) / 4
            darkness.append(corners - centre)
            XCTAssertTrue((115...145).contains(n), "\(id) is \(n) px")
        }
        let imageAUC = auc(scores: darkness, labels: data.labels)
        print("synthetic AUC: lesion diameter \(metadataAUC), centre darkness \(imageAUC)")
        XCTAssertGreaterThan(metadataAUC, 0.7)
        XCTAssertGreaterThan(imageAUC, 0.7)

        let again = try SyntheticISIC.write(to: try makeTemporaryFolder("synth2"), lesions: 400, patients: 80,
                                            positiveRate: 0.1, seed: 5)
        XCTAssertEqual(try Data(contentsOf: again.metadataURL), try Data(contentsOf: summary.metadataURL),
                       "the same seed writes the same metadata")
    }
}
