import Foundation
import XCTest
import KatechonData

final class SplitAndLoaderTests: XCTestCase {
    /// 300 patients with 1 to 6 lesions each, at most one positive per patient.
    private func cohort() -> (ids: [String], groups: [String], labels: [Int32]) {
        var random = SampleRandom(state: 42)
        var ids: [String] = [], groups: [String] = [], labels: [Int32] = []
        for patient in 0..<300 {
            let lesions = 1 + random.below(6)
            let positive = random.unit() < 0.15 ? random.below(lesions) : -1
            for lesion in 0..<lesions {
                ids.append("ISIC_\(ids.count)")
                groups.append("IP_\(patient)")
                labels.append(lesion == positive ? 1 : 0)
            }
        }
        return (ids, groups, labels)
    }

    func testFoldsKeepPatientsTogetherAndBalancePositives() throws {
        let (ids, groups, labels) = cohort()
        let split = try FoldSplit.make(ids: ids, groups: groups, labels: labels, folds: 5, seed: 3, groupColumn: "patient_id")
        var foldOfGroup: [String: Int] = [:]
        for (sample, group) in groups.enumerated() {
            let fold = split.foldOfSample[sample]
            XCTAssertTrue((0..<5).contains(fold))
            if let other = foldOfGroup[group] {
                XCTAssertEqual(other, fold, "patient \(group) is in folds \(other) and \(fold)")
            }
            foldOfGroup[group] = fold
        }
        var positives = [Int](repeating: 0, count: 5)
        for (sample, label) in labels.enumerated() where label == 1 { positives[split.foldOfSample[sample]] += 1 }
        XCTAssertEqual(positives, split.positivesPerFold)
        XCTAssertLessThanOrEqual(positives.max()! - positives.min()!, 1, "positives per fold \(positives)")
        XCTAssertGreaterThan(positives.min()!, 0)

        let training = try split.trainingIndices(fold: 2)
        let validation = try split.validationIndices(fold: 2)
        XCTAssertEqual(Set(training).union(validation).count, ids.count)
        XCTAssertTrue(Set(training).isDisjoint(with: validation))
        XCTAssertThrowsError(try split.validationIndices(fold: 5))

        let again = try FoldSplit.make(ids: ids, groups: groups, labels: labels, folds: 5, seed: 3, groupColumn: "patient_id")
        XCTAssertEqual(again, split, "the same seed gives the same split")
        let decoded = try JSONDecoder().decode(FoldSplit.self, from: JSONEncoder().encode(split))
        XCTAssertEqual(decoded, split)
        let other = try FoldSplit.make(ids: ids, groups: groups, labels: labels, folds: 5, seed: 4, groupColumn: "patient_id")
        XCTAssertNotEqual(other.foldOfSample, split.foldOfSample, "another seed gives another split")
    }

    func testTooFewGroupsIsRejected() {
        assertThrowsMessage(["--folds", "only 2 groups"]) {
            _ = try FoldSplit.make(ids: ["a", "b", "c"], groups: ["p", "p", "q"], labels: [0, 1, 0], folds: 3, seed: 1,
                                   groupColumn: "patient_id")
        }
    }

    func testUndersamplingDrawsAfreshEachEpoch() {
        let (_, _, labels) = cohort()
        let indices = Array(labels.indices)
        let positives = labels.filter { $0 == 1 }.count
        let epoch0 = NegativeUndersampler.sample(indices: indices, labels: labels, negativesPerPositive: 3, seed: 5, epoch: 0)
        let again = NegativeUndersampler.sample(indices: indices, labels: labels, negativesPerPositive: 3, seed: 5, epoch: 0)
        let epoch1 = NegativeUndersampler.sample(indices: indices, labels: labels, negativesPerPositive: 3, seed: 5, epoch: 1)
        XCTAssertEqual(epoch0, again)
        XCTAssertNotEqual(epoch0, epoch1)
        XCTAssertEqual(epoch0.count, positives * 4)
        XCTAssertEqual(epoch0.filter { labels[$0] == 1 }.count, positives, "every positive is kept")
    }

    func testLoaderKeepsOrderAndPropagatesErrors() throws {
        let loader = BackgroundLoader<Int>(jobCount: 20, workers: 3, capacity: 4) { job in
            if job % 3 == 0 { Thread.sleep(forTimeInterval: 0.002) }
            return job * job
        }
        var received: [Int] = []
        while let value = try loader.next() { received.append(value) }
        XCTAssertEqual(received, (0..<20).map { $0 * $0 })

        let failing = BackgroundLoader<Int>(jobCount: 10, workers: 2, capacity: 2) { job in
            if job == 4 { throw DataError.imageNotFound(isicID: "ISIC_4", source: "test") }
            return job
        }
        var before: [Int] = []
        assertThrowsMessage(["ISIC_4", "test"]) {
            while let value = try failing.next() { before.append(value) }
        }
        XCTAssertEqual(before, [0, 1, 2, 3])
        XCTAssertNil(try failing.next(), "the loader ends after an error")
    }

    func testLoaderBuildsDatasetBatches() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(contentsOf: TestPaths.isic2024Metadata)
        let schema = try MetadataSchema.fit(table: table, trainingRows: [0, 1, 2], categorical: ["sex"], numeric: ["age_approx"])
        let data = try LesionDataset(table: table, images: openImageSource(path: TestPaths.isic2024Images.path),
                                     labelSpec: nil, schema: schema, preprocessor: ImagePreprocessor(imageSize: 16))
        let batches = [[0, 1], [2], [1, 2, 0]]
        let loader = BackgroundLoader(dataset: data, batches: batches, imageSize: 16, augment: true, epoch: 1, seed: 2)
        for indices in batches {
            let batch = try XCTUnwrap(try loader.next())
            let direct = try data.batch(indices: indices, imageSize: 16, augment: true, epoch: 1, seed: 2)
            XCTAssertEqual(batch.ids, direct.ids)
            XCTAssertEqual(batch.pixels, direct.pixels)
        }
        XCTAssertNil(try loader.next())
    }
}
