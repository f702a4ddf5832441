import Foundation
import XCTest
import KatechonData

final class MetadataTests: XCTestCase {
    func testUDA1SidecarsBecomeTable() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(jsonSidecarsIn: TestPaths.uda1Folder)
        XCTAssertEqual(table.rowCount, 440)
        XCTAssertEqual(table.columns.first, "isic_id")
        for name in ["age_approx", "sex", "benign_malignant", "diagnosis", "pixelsX", "pixelsY", "image_type"] {
            XCTAssertTrue(table.hasColumn(name), "column \(name) missing from \(table.columns)")
        }
        let first = try table.column("isic_id").firstIndex(of: "ISIC_0000004")!
        XCTAssertEqual(try table.cell(row: first, column: "age_approx"), "80")
        XCTAssertEqual(try table.cell(row: first, column: "pixelsX"), "1022")

        let spec = try LabelSpec.make(column: "benign_malignant", table: table)
        let (labels, invalid) = try spec.labels(in: table, dropInvalid: false)
        XCTAssertEqual(invalid.count, 0)
        XCTAssertEqual(labels.filter { $0 == 1 }.count, 122, "malignant images")
    }

    func testUDA1MissingAgeAndSexEncodeAsMissing() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(jsonSidecarsIn: TestPaths.uda1Folder)
        let columns = MetadataSchema.defaultColumns(for: table, label: "benign_malignant")
        XCTAssertTrue(columns.numeric.contains("age_approx"), "\(columns)")
        XCTAssertTrue(columns.categorical.contains("sex"), "\(columns)")
        XCTAssertFalse((columns.categorical + columns.numeric).contains("diagnosis"), "diagnosis is post-diagnosis")
        XCTAssertFalse((columns.categorical + columns.numeric).contains("benign_malignant"), "the label is no feature")

        let schema = try MetadataSchema.fit(table: table, trainingRows: Array(0..<table.rowCount),
                                            categorical: ["sex"], numeric: ["age_approx"], softLabel: 0)
        let sex = schema.categorical[0]
        XCTAssertEqual(sex.vocabulary, ["female", "male"])
        let encoder = try schema.encoder(for: table)
        let ages = try table.numericColumn("age_approx")
        let sexes = try table.column("sex")
        let missingRows = (0..<table.rowCount).filter { ages[$0] == nil && sexes[$0] == nil }
        XCTAssertGreaterThan(missingRows.count, 100, "about half the UDA-1 records lack age and sex")
        for row in missingRows {
            // [female, male, missing, unseen, age, age missing]
            XCTAssertEqual(encoder.encode(row: row), [0, 0, 1, 0, 0, 1], "row \(row)")
        }
    }

    func testSchemaEncodingMatchesHandComputation() throws {
        let table = CSVTable(columns: ["isic_id", "site", "size"],
                             rows: [["a", "arm", "1"], ["b", "leg", "3"], ["c", nil, "NaN"], ["d", "head", "5"]],
                             source: "memory")
        let schema = try MetadataSchema.fit(table: table, trainingRows: [0, 1, 2], categorical: ["site"],
                                            numeric: ["size"], softLabel: 0.01)
        XCTAssertEqual(schema.width, 4 + 2, "arm, leg, missing, unseen, size, size missing")
        XCTAssertEqual(schema.numeric[0].mean, 2)
        XCTAssertEqual(schema.numeric[0].standardDeviation, 1)
        let encoder = try schema.encoder(for: table)
        XCTAssertEqual(encoder.encode(row: 0), [1, 0.01, 0.01, 0.01, -1, 0])
        XCTAssertEqual(encoder.encode(row: 2), [0.01, 0.01, 1, 0.01, 0, 1])
        XCTAssertEqual(encoder.encode(row: 3), [0.01, 0.01, 0.01, 1, 3, 0], "head is unseen in training")

        let json = try JSONEncoder().encode(schema)
        XCTAssertEqual(try JSONDecoder().decode(MetadataSchema.self, from: json), schema)
    }

    func testConstantColumnGetsUnitDeviation() throws {
        let table = CSVTable(columns: ["v"], rows: [["2"], ["2"]], source: "memory")
        let schema = try MetadataSchema.fit(table: table, trainingRows: [0, 1], categorical: [], numeric: ["v"])
        XCTAssertEqual(schema.numeric[0].standardDeviation, 1)
    }

    func testISIC2024DefaultColumns() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(contentsOf: TestPaths.isic2024Metadata)
        let columns = MetadataSchema.defaultColumns(for: table, label: "target")
        XCTAssertEqual(columns.categorical, ["sex", "anatom_site_general", "image_type", "tbp_tile_type",
                                             "tbp_lv_location", "tbp_lv_location_simple"])
        XCTAssertEqual(columns.numeric.count, 44 - 4 - 6)
        XCTAssertFalse(columns.numeric.contains("patient_id"))
        let schema = try MetadataSchema.fit(table: table, trainingRows: [0, 1, 2], categorical: columns.categorical,
                                            numeric: columns.numeric)
        XCTAssertEqual(try schema.encoder(for: table).encode(row: 2).count, schema.width)
    }

    func testMissingLabelColumnListsColumns() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(contentsOf: TestPaths.isic2024Metadata)
        assertThrowsMessage(["'target' not found", "test-metadata.csv", "isic_id, patient_id"]) {
            _ = try LabelSpec.make(column: "target", table: table)
        }
    }

    func testInvalidLabelNamesRowAndID() throws {
        let table = CSVTable(columns: ["isic_id", "target"], rows: [["ISIC_1", "0"], ["ISIC_2", nil], ["ISIC_3", "2"]],
                             source: "train.csv")
        let spec = try LabelSpec.make(column: "target", table: table)
        assertThrowsMessage(["train.csv:3", "ISIC_2", "missing", "0 or 1"]) {
            _ = try spec.labels(in: table, dropInvalid: false)
        }
        let (labels, invalid) = try spec.labels(in: table, dropInvalid: true)
        XCTAssertEqual(labels, [0, -1, -1])
        XCTAssertEqual(invalid.map(\.isicID), ["ISIC_2", "ISIC_3"])
    }

    func testMulticlassVocabularyIsSorted() throws {
        let table = CSVTable(columns: ["diagnosis"], rows: [["nevus"], ["melanoma"], [nil]], source: "m")
        let spec = try LabelSpec.make(column: "diagnosis", table: table)
        XCTAssertEqual(spec.classes, ["melanoma", "nevus"])
        XCTAssertEqual(spec.logitCount, 2)
        XCTAssertEqual(spec.classIndex(of: "nevus"), 1)
    }
}

final class MetadataLoadingTests: XCTestCase {
    func testLoadPicksCSVOrSidecars() throws {
        try TestPaths.requireSharedData()
        let csv = try CSVTable.load(metadataPath: TestPaths.isic2024Metadata.path, imagesPath: TestPaths.isic2024Images.path)
        XCTAssertEqual(csv.rowCount, 3)
        let sidecars = try CSVTable.load(metadataPath: nil, imagesPath: TestPaths.uda1Folder.path)
        XCTAssertEqual(sidecars.rowCount, 440)
        assertThrowsMessage(["test-image.hdf5", "--metadata"]) {
            _ = try CSVTable.load(metadataPath: nil, imagesPath: TestPaths.isic2024Images.path)
        }
    }
}
