import Foundation
import XCTest
import KatechonData

final class DatasetTests: XCTestCase {
    /// Creates a folder with three UDA-1 images, one truncated JPEG and a CSV naming some of them.
    private func makeFolder(csvRows: [String]) throws -> (images: URL, csv: URL) {
        let folder = try makeTemporaryFolder("dataset")
        let images = folder.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for id in ["ISIC_0000004", "ISIC_0000005", "ISIC_0000007"] {
            try FileManager.default.copyItem(at: TestPaths.uda1Folder.appendingPathComponent("\(id).jpg"),
                                             to: images.appendingPathComponent("\(id).jpg"))
        }
        let jpeg = try Data(contentsOf: TestPaths.uda1Folder.appendingPathComponent("ISIC_0000008.jpg"))
        try jpeg.prefix(jpeg.count / 3).write(to: images.appendingPathComponent("ISIC_BROKEN.jpg"))
        let csv = folder.appendingPathComponent("train.csv")
        try Data((["isic_id,patient_id,age_approx,sex,target"] + csvRows).joined(separator: "\n").utf8).write(to: csv)
        return (images, csv)
    }

    private func dataset(_ paths: (images: URL, csv: URL), options: LesionDataset.Options = .init()) throws -> LesionDataset {
        let table = try CSVTable(contentsOf: paths.csv)
        let schema = try MetadataSchema.fit(table: table, trainingRows: Array(0..<table.rowCount),
                                            categorical: ["sex"], numeric: ["age_approx"])
        return try LesionDataset(table: table, images: openImageSource(path: paths.images.path),
                                 labelSpec: LabelSpec.make(column: "target", table: table), schema: schema,
                                 preprocessor: ImagePreprocessor(imageSize: 32), options: options)
    }

    func testISIC2024BatchWithoutLabels() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(contentsOf: TestPaths.isic2024Metadata)
        let columns = MetadataSchema.defaultColumns(for: table, label: "target")
        let schema = try MetadataSchema.fit(table: table, trainingRows: [0, 1, 2],
                                            categorical: columns.categorical, numeric: columns.numeric)
        let data = try LesionDataset(table: table, images: openImageSource(path: TestPaths.isic2024Images.path),
                                     labelSpec: nil, schema: schema, preprocessor: ImagePreprocessor(imageSize: 48))
        XCTAssertEqual(data.count, 3)
        XCTAssertEqual(data.groupColumn, "patient_id")
        let batch = try data.batch(indices: [2, 0], imageSize: 48, augment: false, epoch: 0, seed: 1)
        XCTAssertEqual(batch.ids, ["ISIC_0015740", "ISIC_0015657"])
        XCTAssertEqual(batch.pixels.count, 2 * 3 * 48 * 48)
        XCTAssertEqual(batch.metadataWidth, schema.width)
        XCTAssertEqual(batch.labels, [-1, -1])
        // Normalising with mean 0.5 and std 0.5 maps [0, 1] onto [-1, 1].
        XCTAssertGreaterThanOrEqual(batch.pixels.min()!, -1)
        XCTAssertLessThanOrEqual(batch.pixels.max()!, 1)
    }

    func testRowWithoutImageNamesID() throws {
        try TestPaths.requireSharedData()
        let paths = try makeFolder(csvRows: ["ISIC_0000004,P1,40,male,0", "ISIC_0000099,P2,50,female,1"])
        assertThrowsMessage(["ISIC_0000099", "images"]) {
            _ = try self.dataset(paths)
        }
    }

    func testImagesWithoutRowsAreCounted() throws {
        try TestPaths.requireSharedData()
        let paths = try makeFolder(csvRows: ["ISIC_0000004,P1,40,male,0"])
        let data = try dataset(paths)
        XCTAssertEqual(data.count, 1)
        XCTAssertEqual(data.imagesWithoutRows, ["ISIC_0000005", "ISIC_0000007", "ISIC_BROKEN"])
    }

    func testBadImageThrowsOrIsSkipped() throws {
        try TestPaths.requireSharedData()
        let rows = ["ISIC_0000004,P1,40,male,0", "ISIC_BROKEN,P1,40,male,1", "ISIC_0000005,P2,,,0"]
        let strict = try dataset(makeFolder(csvRows: rows))
        assertThrowsMessage(["ISIC_BROKEN", "JPEG"]) {
            _ = try strict.batch(indices: [0, 1, 2], imageSize: 32, augment: false, epoch: 0, seed: 1)
        }

        var options = LesionDataset.Options()
        options.skipBadImages = true
        let lenient = try dataset(makeFolder(csvRows: rows), options: options)
        let batch = try lenient.batch(indices: [0, 1, 2], imageSize: 32, augment: false, epoch: 0, seed: 1)
        XCTAssertEqual(batch.count, 3)
        XCTAssertEqual(batch.skippedImages.map(\.isicID), ["ISIC_BROKEN"])
        XCTAssertEqual(lenient.skippedImages.count, 1)
        let plane = 3 * 32 * 32
        XCTAssertTrue(batch.pixels[plane..<(2 * plane)].allSatisfy { $0 == 0 }, "the bad image is blank")
        XCTAssertEqual(batch.labels, [0, 1, 0])
    }

    func testDroppedLabelsAreReported() throws {
        try TestPaths.requireSharedData()
        let rows = ["ISIC_0000004,P1,40,male,0", "ISIC_0000005,P2,50,female,", "ISIC_0000007,P3,60,male,yes"]
        assertThrowsMessage(["train.csv:3", "ISIC_0000005"]) {
            _ = try self.dataset(self.makeFolder(csvRows: rows))
        }
        var options = LesionDataset.Options()
        options.dropInvalidLabels = true
        let data = try dataset(makeFolder(csvRows: rows), options: options)
        XCTAssertEqual(data.ids, ["ISIC_0000004"])
        XCTAssertEqual(data.droppedRows.map(\.isicID), ["ISIC_0000005", "ISIC_0000007"])
    }

    func testSchemaFittedAfterSplit() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(jsonSidecarsIn: TestPaths.uda1Folder)
        let label = try LabelSpec.make(column: "benign_malignant", table: table)
        let data = try LesionDataset(table: table, images: openImageSource(path: TestPaths.uda1Folder.path),
                                     labelSpec: label, preprocessor: ImagePreprocessor(imageSize: 16))
        XCTAssertEqual(data.metadataWidth, 0)
        let split = try FoldSplit.make(dataset: data, folds: 4, seed: 1)
        let training = try split.trainingIndices(fold: 0)
        let schema = try data.fitSchema(trainingSamples: training, categorical: ["sex"], numeric: ["age_approx"])
        let ages = training.compactMap { Double(table.cell(row: data.rows[$0], column: try! table.columnIndex("age_approx")) ?? "") }
        let mean = ages.reduce(0, +) / Double(ages.count)
        XCTAssertEqual(schema.numeric[0].mean, mean, accuracy: 1e-9, "the scaler uses training samples only")
        try data.setSchema(schema)
        let batch = try data.batch(indices: [training[0]], imageSize: 16, augment: false, epoch: 0, seed: 0)
        XCTAssertEqual(batch.metadataWidth, schema.width)
    }

    func testUDA1FolderWithSidecars() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(jsonSidecarsIn: TestPaths.uda1Folder)
        let label = try LabelSpec.make(column: "benign_malignant", table: table)
        let columns = MetadataSchema.defaultColumns(for: table, label: label.column)
        let schema = try MetadataSchema.fit(table: table, trainingRows: Array(0..<table.rowCount),
                                            categorical: columns.categorical, numeric: columns.numeric)
        let data = try LesionDataset(table: table, images: openImageSource(path: TestPaths.uda1Folder.path),
                                     labelSpec: label, schema: schema, preprocessor: ImagePreprocessor(imageSize: 32))
        XCTAssertEqual(data.count, 440)
        XCTAssertNil(data.groupColumn, "UDA-1 records name no patient, so each image is its own group")
        XCTAssertEqual(data.labels.filter { $0 == 1 }.count, 122)
        let batch = try data.batch(indices: [0, 439], imageSize: 32, augment: true, epoch: 3, seed: 9)
        XCTAssertEqual(batch.count, 2)
    }
}
