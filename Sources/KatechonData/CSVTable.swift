import Foundation

/// A table of text cells read from an RFC 4180 CSV file or built from rows, stored
/// compactly: every cell's bytes sit in one buffer and each cell is an end offset into
/// it, so a 400,000 x 55 table costs about its file size plus 4 bytes per cell.
/// Columns are materialised on demand. An empty cell is a missing value.
public struct CSVTable: Sendable {
    /// The column names, from the header line.
    public let columns: [String]
    /// The number of data rows (the header is not a row).
    public let rowCount: Int
    /// The file the table came from, used in error messages.
    public let source: String

    /// The unescaped bytes of all cells, row-major.
    private let cellBytes: [UInt8]
    /// End offset in `cellBytes` of cell `row * columns.count + column`.
    private let cellEnds: [UInt32]
    /// The 1-based line of the file on which each row starts.
    private let rowLines: [Int32]
    private let columnIndexByName: [String: Int]

    /// Reads a CSV file: fields separated by commas, quoted with `"` when they contain
    /// commas, quotes (doubled) or line breaks, records ended by LF or CRLF, an optional
    /// UTF-8 byte order mark, and a header line naming the columns.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw DataError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        var parser = CSVParser(path: url.path)
        try data.withUnsafeBytes { raw in
            try parser.parse(raw.bindMemory(to: UInt8.self))
        }
        guard let header = parser.header else {
            throw DataError.malformedCSV(path: url.path, line: 1, column: 1, reason: "the file is empty, expected a header line")
        }
        self.init(columns: header, rowCount: parser.rowCount, source: url.path,
                  cellBytes: parser.cellBytes, cellEnds: parser.cellEnds, rowLines: parser.rowLines)
    }

    /// Builds a table from rows of optional cells; `nil` and empty strings are missing
    /// values. `rowLines` gives the line (or record number) each row is reported as in
    /// errors, by default its 1-based position after a header line.
    public init(columns: [String], rows: [[String?]], source: String, rowLines: [Int]? = nil) {
        var bytes: [UInt8] = []
        var ends: [UInt32] = []
        ends.reserveCapacity(rows.count * columns.count)
        for row in rows {
            precondition(row.count == columns.count, "row has \(row.count) cells for \(columns.count) columns")
            for cell in row {
                if let cell { bytes.append(contentsOf: Array(cell.utf8)) }
                ends.append(UInt32(bytes.count))
            }
        }
        let lines = rowLines ?? Array(2..<(rows.count + 2))
        self.init(columns: columns, rowCount: rows.count, source: source,
                  cellBytes: bytes, cellEnds: ends, rowLines: lines.map { Int32($0) })
    }

    private init(columns: [String], rowCount: Int, source: String,
                 cellBytes: [UInt8], cellEnds: [UInt32], rowLines: [Int32]) {
        self.columns = columns
        self.rowCount = rowCount
        self.source = source
        self.cellBytes = cellBytes
        self.cellEnds = cellEnds
        self.rowLines = rowLines
        var index: [String: Int] = [:]
        for (i, name) in columns.enumerated() where index[name] == nil {
            index[name] = i
        }
        self.columnIndexByName = index
    }

    /// Returns whether the table has a column of this name.
    public func hasColumn(_ name: String) -> Bool {
        columnIndexByName[name] != nil
    }

    /// Returns the position of a column, or throws `DataError.missingColumn` listing the
    /// available columns.
    public func columnIndex(_ name: String) throws -> Int {
        guard let index = columnIndexByName[name] else {
            throw DataError.missingColumn(name: name, path: source, available: columns)
        }
        return index
    }

    /// Returns the file line on which a row starts, for error messages.
    public func lineNumber(ofRow row: Int) -> Int {
        Int(rowLines[row])
    }

    /// Returns a cell's text, or `nil` when it is empty.
    public func cell(row: Int, column: Int) -> String? {
        precondition(row >= 0 && row < rowCount && column >= 0 && column < columns.count, "cell (\(row), \(column)) out of range")
        let cellIndex = row * columns.count + column
        let start = cellIndex == 0 ? 0 : Int(cellEnds[cellIndex - 1])
        let end = Int(cellEnds[cellIndex])
        if start == end { return nil }
        return cellBytes.withUnsafeBufferPointer { buffer in
            String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self)
        }
    }

    /// Returns a cell's text by column name, or `nil` when it is empty.
    public func cell(row: Int, column name: String) throws -> String? {
        cell(row: row, column: try columnIndex(name))
    }

    /// Returns every cell of a column; empty cells are `nil`.
    public func column(_ name: String) throws -> [String?] {
        let column = try columnIndex(name)
        return (0..<rowCount).map { cell(row: $0, column: column) }
    }

    /// Returns a column as numbers. Empty cells, `NaN` and text that is not a number are
    /// `nil` (missing); an infinity throws `DataError.infiniteValue` naming the line.
    public func numericColumn(_ name: String) throws -> [Double?] {
        let column = try columnIndex(name)
        var values = [Double?](repeating: nil, count: rowCount)
        try cellBytes.withUnsafeBufferPointer { buffer in
            var scratch = [CChar](repeating: 0, count: 64)
            for row in 0..<rowCount {
                let cellIndex = row * columns.count + column
                let start = cellIndex == 0 ? 0 : Int(cellEnds[cellIndex - 1])
                let end = Int(cellEnds[cellIndex])
                let cellText = UnsafeBufferPointer(rebasing: buffer[start..<end])
                guard let value = CSVTable.parseNumber(cellText, scratch: &scratch) else { continue }
                if value.isInfinite {
                    throw DataError.infiniteValue(path: source, line: lineNumber(ofRow: row), column: name,
                                                  text: String(decoding: cellText, as: UTF8.self))
                }
                if !value.isNaN { values[row] = value }
            }
        }
        return values
    }

    /// Parses a decimal number with optional exponent, `NaN` or an infinity, ignoring
    /// surrounding spaces; returns `nil` for empty or non-numeric text.
    static func parseNumber(_ text: UnsafeBufferPointer<UInt8>, scratch: inout [CChar]) -> Double? {
        var start = 0
        var end = text.count
        while start < end && (text[start] == 0x20 || text[start] == 0x09) { start += 1 }
        while end > start && (text[end - 1] == 0x20 || text[end - 1] == 0x09) { end -= 1 }
        let length = end - start
        if length == 0 { return nil }
        if scratch.count < length + 1 { scratch = [CChar](repeating: 0, count: length + 1) }
        return scratch.withUnsafeMutableBufferPointer { buffer -> Double? in
            for i in 0..<length { buffer[i] = CChar(bitPattern: text[start + i]) }
            buffer[length] = 0
            // strtod also accepts hexadecimal floats; those are rare in metadata and harmless.
            var parsedEnd: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(buffer.baseAddress!, &parsedEnd)
            guard let parsedEnd, parsedEnd - buffer.baseAddress! == length else { return nil }
            return value
        }
    }
}

/// A byte-level RFC 4180 state machine that fills the buffers of a `CSVTable`.
private struct CSVParser {
    let path: String
    var header: [String]?
    var rowCount = 0
    var cellBytes: [UInt8] = []
    var cellEnds: [UInt32] = []
    var rowLines: [Int32] = []

    init(path: String) {
        self.path = path
    }

    mutating func parse(_ input: UnsafeBufferPointer<UInt8>) throws {
        let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
        var i = 0
        let n = input.count
        if n >= 3 && input[0] == 0xEF && input[1] == 0xBB && input[2] == 0xBF { i = 3 }
        cellBytes.reserveCapacity(n)

        var line = 1
        var headerBytes: [UInt8] = []
        var headerEnds: [Int] = []

        while i < n {
            // Skip blank lines between records.
            if input[i] == lf { line += 1; i += 1; continue }
            if input[i] == cr {
                line += 1
                i += (i + 1 < n && input[i + 1] == lf) ? 2 : 1
                continue
            }

            let recordLine = line
            var fieldCount = 0
            var recordDone = false
            while !recordDone {
                let fieldStart = cellBytes.count
                fieldCount += 1
                if i < n && input[i] == quote {
                    // Quoted field: runs to the closing quote; "" is one quote.
                    let quoteLine = line
                    i += 1
                    var closed = false
                    while i < n {
                        let byte = input[i]
                        if byte == quote {
                            if i + 1 < n && input[i + 1] == quote {
                                cellBytes.append(quote)
                                i += 2
                                continue
                            }
                            i += 1
                            closed = true
                            break
                        }
                        if byte == lf || (byte == cr && !(i + 1 < n && input[i + 1] == lf)) { line += 1 }
                        cellBytes.append(byte)
                        i += 1
                    }
                    if !closed {
                        throw DataError.malformedCSV(path: path, line: quoteLine, column: fieldCount,
                                                     reason: "the quoted field opened here is never closed")
                    }
                    if i < n && input[i] != comma && input[i] != lf && input[i] != cr {
                        throw DataError.malformedCSV(path: path, line: line, column: fieldCount,
                                                     reason: "unexpected character after a closing quote; double quotes inside quoted fields")
                    }
                } else {
                    while i < n && input[i] != comma && input[i] != lf && input[i] != cr {
                        cellBytes.append(input[i])
                        i += 1
                    }
                }

                if header == nil {
                    headerBytes.append(contentsOf: cellBytes[fieldStart...])
                    headerEnds.append(headerBytes.count)
                    cellBytes.removeSubrange(fieldStart...)
                } else {
                    guard cellBytes.count <= Int(UInt32.max) else {
                        throw DataError.unreadableFile(path: path, reason: "more than 4 GiB of cell text is not supported")
                    }
                    cellEnds.append(UInt32(cellBytes.count))
                }

                if i >= n {
                    recordDone = true
                } else if input[i] == comma {
                    i += 1
                } else {
                    i += (input[i] == cr && i + 1 < n && input[i + 1] == lf) ? 2 : 1
                    line += 1
                    recordDone = true
                }
            }

            if let header {
                if fieldCount != header.count {
                    throw DataError.wrongFieldCount(path: path, line: recordLine, expected: header.count, found: fieldCount,
                                                    column: fieldCount < header.count ? header[fieldCount] : nil)
                }
                rowLines.append(Int32(truncatingIfNeeded: recordLine))
                rowCount += 1
            } else {
                var names: [String] = []
                var start = 0
                for end in headerEnds {
                    names.append(String(decoding: headerBytes[start..<end], as: UTF8.self))
                    start = end
                }
                header = names
            }
        }
    }
}
