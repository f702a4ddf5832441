import Foundation

/// A table of text cells read from an RFC 4180 CSV file or built from rows.
///
/// Every cell's bytes sit in one buffer and each cell is a 32-bit end offset into it,
/// so a read table costs about its file size plus 4 bytes per cell. Parsing also maps
/// the file while it runs. For a 200 MB file of 400,000 x 55 cells, the resident size
/// after reading was about 300 MB, with a peak near 520 MB. Columns are materialised on
/// demand. An empty cell is a missing value.
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
        let cellBytes = try data.withUnsafeBytes { raw in
            let input = raw.bindMemory(to: UInt8.self)
            return try [UInt8](unsafeUninitializedCapacity: max(input.count, 1)) { buffer, count in
                count = 0
                count = try parser.parse(input, into: buffer)
            }
        }
        guard let header = parser.header else {
            throw DataError.malformedCSV(path: url.path, line: 1, column: 1, reason: "the file is empty, expected a header line")
        }
        self.init(columns: header, rowCount: parser.rowCount, source: url.path,
                  cellBytes: cellBytes, cellEnds: parser.cellEnds, rowLines: parser.rowLines)
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
        let scratch = UnsafeMutablePointer<CChar>.allocate(capacity: CSVTable.maxNumberLength + 1)
        defer { scratch.deallocate() }
        try cellBytes.withUnsafeBufferPointer { buffer in
            try cellEnds.withUnsafeBufferPointer { ends in
                for row in 0..<rowCount {
                    let cellIndex = row * columns.count + column
                    let start = cellIndex == 0 ? 0 : Int(ends[cellIndex - 1])
                    let cellText = UnsafeBufferPointer(rebasing: buffer[start..<Int(ends[cellIndex])])
                    guard let value = CSVTable.parseNumber(cellText, scratch: scratch) else { continue }
                    if value.isInfinite {
                        throw DataError.infiniteValue(path: source, line: lineNumber(ofRow: row), column: name,
                                                      text: String(decoding: cellText, as: UTF8.self))
                    }
                    if !value.isNaN { values[row] = value }
                }
            }
        }
        return values
    }

    /// Returns several columns as 32-bit floats with NaN for missing cells, in one pass
    /// over the rows (a quarter of the memory of `numericColumn`, and much faster for
    /// many columns because the cells are read in storage order). Infinities throw as
    /// in `numericColumn`.
    public func floatColumns(_ names: [String]) throws -> [[Float]] {
        let indices = try names.map { try columnIndex($0) }
        var values = [[Float]](repeating: [Float](repeating: .nan, count: rowCount), count: names.count)
        let scratch = UnsafeMutablePointer<CChar>.allocate(capacity: CSVTable.maxNumberLength + 1)
        defer { scratch.deallocate() }

        try cellBytes.withUnsafeBufferPointer { buffer in
            try cellEnds.withUnsafeBufferPointer { ends in
                for row in 0..<rowCount {
                    for (k, column) in indices.enumerated() {
                        let cellIndex = row * columns.count + column
                        let start = cellIndex == 0 ? 0 : Int(ends[cellIndex - 1])
                        let cellText = UnsafeBufferPointer(rebasing: buffer[start..<Int(ends[cellIndex])])
                        guard let value = CSVTable.parseNumber(cellText, scratch: scratch) else { continue }
                        if value.isInfinite {
                            throw DataError.infiniteValue(path: source, line: lineNumber(ofRow: row), column: names[k],
                                                          text: String(decoding: cellText, as: UTF8.self))
                        }
                        values[k][row] = Float(value)
                    }
                }
            }
        }
        return values
    }

    /// The longest cell text, after trimming spaces, that is parsed as a number.
    static let maxNumberLength = 63

    /// Parses a decimal number with optional exponent, `NaN` or an infinity, ignoring
    /// surrounding spaces. Returns `nil` for empty or non-numeric text and for text
    /// longer than `maxNumberLength`. `scratch` holds `maxNumberLength + 1` bytes.
    static func parseNumber(_ text: UnsafeBufferPointer<UInt8>, scratch: UnsafeMutablePointer<CChar>) -> Double? {
        var start = 0
        var end = text.count
        while start < end && (text[start] == 0x20 || text[start] == 0x09) { start += 1 }
        while end > start && (text[end - 1] == 0x20 || text[end - 1] == 0x09) { end -= 1 }
        let length = end - start
        if length == 0 || length > maxNumberLength { return nil }
        if let value = parsePlainDecimal(UnsafeBufferPointer(rebasing: text[start..<end])) { return value }
        for i in 0..<length { scratch[i] = CChar(bitPattern: text[start + i]) }
        scratch[length] = 0

        // strtod also accepts hexadecimal floats; those are rare in metadata and harmless.
        var parsedEnd: UnsafeMutablePointer<CChar>? = nil
        let value = strtod(scratch, &parsedEnd)
        guard let parsedEnd, parsedEnd - scratch == length else { return nil }
        return value
    }
}

extension CSVTable {
    /// Exact powers of ten up to 10^22, the largest a Double represents exactly.
    private static let exactPowersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    /// Parses `[-+]digits[.digits][(e|E)[-+]digits]` when the digits fit in 53 bits and
    /// the decimal exponent lies within ±22. Both operands of the one multiplication or
    /// division are then exact, so the result is correctly rounded, equal to strtod's.
    /// Returns `nil` for anything else, leaving it to strtod.
    static func parsePlainDecimal(_ text: UnsafeBufferPointer<UInt8>) -> Double? {
        var i = 0
        let n = text.count
        var negative = false
        if i < n && (text[i] == 0x2D || text[i] == 0x2B) {
            negative = text[i] == 0x2D
            i += 1
        }

        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var seenPoint = false
        var seenDigit = false
        while i < n {
            let byte = text[i]
            if byte >= 0x30 && byte <= 0x39 {
                // Leading zeros do not count towards the 18 significant digits.
                if digits >= 18 { return nil }
                mantissa = mantissa * 10 + UInt64(byte - 0x30)
                if mantissa > 0 { digits += 1 }
                if seenPoint { fractionDigits += 1 }
                seenDigit = true
            } else if byte == 0x2E && !seenPoint {
                seenPoint = true
            } else {
                break
            }
            i += 1
        }
        guard seenDigit else { return nil }

        var exponent = 0
        if i < n && (text[i] == 0x65 || text[i] == 0x45) {
            i += 1
            var exponentNegative = false
            if i < n && (text[i] == 0x2D || text[i] == 0x2B) {
                exponentNegative = text[i] == 0x2D
                i += 1
            }
            let exponentStart = i
            while i < n && text[i] >= 0x30 && text[i] <= 0x39 {
                if i - exponentStart >= 4 { return nil }
                exponent = exponent * 10 + Int(text[i] - 0x30)
                i += 1
            }
            if i == exponentStart { return nil }
            if exponentNegative { exponent = -exponent }
        }
        guard i == n, mantissa <= (1 << 53) else { return nil }

        let power = exponent - fractionDigits
        var value = Double(mantissa)
        if power >= 0 {
            guard power <= 22 else { return nil }
            value *= exactPowersOfTen[power]
        } else {
            guard power >= -22 else { return nil }
            value /= exactPowersOfTen[-power]
        }
        return negative ? -value : value
    }
}

/// A byte-level RFC 4180 state machine that fills the buffers of a `CSVTable`.
private struct CSVParser {
    let path: String
    var header: [String]?
    var rowCount = 0
    var cellEnds: [UInt32] = []
    var rowLines: [Int32] = []

    init(path: String) {
        self.path = path
    }

    /// Parses `input`, writing the unescaped cell bytes into `output` (at least as
    /// large as `input`, since unescaping only shrinks text), and returns the number of
    /// bytes written.
    mutating func parse(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>) throws -> Int {
        let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
        var i = 0
        let n = input.count
        if n >= 3 && input[0] == 0xEF && input[1] == 0xBB && input[2] == 0xBF { i = 3 }
        var used = 0
        var line = 1

        while i < n {
            // Skip blank lines between records.
            if input[i] == lf { line += 1; i += 1; continue }
            if input[i] == cr {
                line += 1
                i += (i + 1 < n && input[i + 1] == lf) ? 2 : 1
                continue
            }

            let recordLine = line
            let recordStart = used
            var fieldCount = 0
            var headerEnds: [Int] = []
            var recordDone = false
            while !recordDone {
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
                                output[used] = quote
                                used += 1
                                i += 2
                                continue
                            }
                            i += 1
                            closed = true
                            break
                        }
                        if byte == lf || (byte == cr && !(i + 1 < n && input[i + 1] == lf)) { line += 1 }
                        output[used] = byte
                        used += 1
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
                    while i < n {
                        let byte = input[i]
                        if byte == comma || byte == lf || byte == cr { break }
                        output[used] = byte
                        used += 1
                        i += 1
                    }
                }

                if header == nil {
                    headerEnds.append(used)
                } else {
                    guard used <= Int(UInt32.max) else {
                        throw DataError.unreadableFile(path: path, reason: "more than 4 GiB of cell text is not supported")
                    }
                    cellEnds.append(UInt32(used))
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
                // The header's names leave the cell buffer, which contains data rows only.
                var names: [String] = []
                var start = recordStart
                for end in headerEnds {
                    names.append(String(decoding: UnsafeBufferPointer(rebasing: output[start..<end]), as: UTF8.self))
                    start = end
                }
                header = names
                used = recordStart
            }
        }
        return used
    }
}
