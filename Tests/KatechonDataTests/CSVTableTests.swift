import Foundation
import XCTest
import KatechonData

final class CSVTableTests: XCTestCase {
    private func write(_ text: String, name: String = "table.csv") throws -> URL {
        let folder = try makeTemporaryFolder("csv")
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func testQuotingBOMAndCRLF() throws {
        let text = "\u{FEFF}id,note,value\r\n"
            + "a,\"x, y\",1.5\r\n"
            + "b,\"he said \"\"hi\"\"\",\r\n"
            + "c,\"two\nlines\",8.052259e-13\r\n"
            + "d,,NaN\r\n"
        let table = try CSVTable(contentsOf: write(text))
        XCTAssertEqual(table.columns, ["id", "note", "value"])
        XCTAssertEqual(table.rowCount, 4)
        XCTAssertEqual(try table.column("note"), ["x, y", "he said \"hi\"", "two\nlines", nil])
        let values = try table.numericColumn("value")
        XCTAssertEqual(values[0], 1.5)
        XCTAssertNil(values[1])
        XCTAssertEqual(values[2], 8.052259e-13)
        XCTAssertNil(values[3])
        XCTAssertEqual(table.lineNumber(ofRow: 3), 6, "row d starts after the two-line field")
    }

    func testNonNumericIsMissing() throws {
        let table = try CSVTable(contentsOf: write("v\n 2 \nabc\n-3e2\n"))
        XCTAssertEqual(try table.numericColumn("v"), [2, nil, -300])
    }

    func testTooFewFieldsNamesLine() throws {
        let url = try write("a,b,c\n1,2,3\n4,5\n")
        assertThrowsMessage([url.path + ":3", "2 fields", "header has 3", "column 'c'"]) {
            _ = try CSVTable(contentsOf: url)
        }
    }

    func testUnclosedQuoteNamesLine() throws {
        let url = try write("a,b\n1,\"open\n2,3\n")
        assertThrowsMessage([url.path + ":2", "never closed"]) {
            _ = try CSVTable(contentsOf: url)
        }
    }

    func testInfinityNamesRowAndColumn() throws {
        let url = try write("isic_id,age\nx,40\ny,-inf\n")
        let table = try CSVTable(contentsOf: url)
        assertThrowsMessage([url.path + ":3", "'age'", "-inf"]) {
            _ = try table.numericColumn("age")
        }
    }

    func testMissingColumnListsAvailable() throws {
        let table = try CSVTable(contentsOf: write("isic_id,age\nx,40\n"))
        assertThrowsMessage(["'target' not found", "isic_id, age"]) {
            _ = try table.column("target")
        }
    }

    func testRealISIC2024Metadata() throws {
        try TestPaths.requireSharedData()
        let table = try CSVTable(contentsOf: TestPaths.isic2024Metadata)
        XCTAssertEqual(table.rowCount, 3)
        XCTAssertEqual(table.columns.count, 44)
        XCTAssertEqual(try table.column("isic_id"), ["ISIC_0015657", "ISIC_0015729", "ISIC_0015740"])
        XCTAssertEqual(try table.cell(row: 1, column: "attribution"),
                       "Frazer Institute, The University of Queensland, Dermatology Research Centre")
        XCTAssertEqual(try table.numericColumn("tbp_lv_nevi_confidence")[2], 8.052259e-13)
        XCTAssertEqual(try table.numericColumn("age_approx"), [45, 35, 65])
    }

    /// The fast decimal path must agree exactly with the C library's strtod, which
    /// Swift's `Double(String)` uses.
    func testNumbersMatchStrtod() throws {
        var random = SampleRandom(state: 99)
        var cells = ["0", "-0", "+1.5", "1.", ".5", "007", "1e5", "1E-5", "12345678901234567890", "0.1", "-2.5e+3",
                     "9007199254740993", "1e22", "1e23", "123456789012345678e-30", "0.000000000000000000001"]
        for _ in 0..<3000 {
            let digits = String(random.next() % (1 << UInt64(1 + random.below(60))))
            let point = random.below(digits.count + 1)
            var text = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
            if random.below(3) == 0 { text += "e" + String(random.below(60) - 30) }
            if random.below(2) == 0 { text = "-" + text }
            cells.append(text)
        }
        let url = try write("v\n" + cells.joined(separator: "\n") + "\n")
        let table = try CSVTable(contentsOf: url)
        let doubles = try table.numericColumn("v")
        let floats = try table.floatColumns(["v"])[0]
        for (row, text) in cells.enumerated() {
            let expected = Double(text)
            XCTAssertEqual(doubles[row], expected, "cell '\(text)'")
            XCTAssertEqual(floats[row], Float(expected!), "cell '\(text)' as Float")
        }
    }

    func testLargeTableParses() throws {
        // 20,000 rows x 55 columns: exercises the compact storage without a large file.
        var text = (0..<55).map { "c\($0)" }.joined(separator: ",") + "\n"
        for row in 0..<20_000 {
            text += (0..<55).map { $0 == 3 ? "\"q,\(row)\"" : String(row * 55 + $0) }.joined(separator: ",") + "\n"
        }
        let table = try CSVTable(contentsOf: write(text))
        XCTAssertEqual(table.rowCount, 20_000)
        XCTAssertEqual(table.cell(row: 19_999, column: 3), "q,19999")
        XCTAssertEqual(try table.numericColumn("c54")[19_999], Double(19_999 * 55 + 54))
    }
}
