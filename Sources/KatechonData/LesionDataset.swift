import Foundation

/// Samples that join a metadata table, an image source, a label and a metadata schema,
/// and turns lists of sample indices into batches.
///
/// The schema may come later: build the dataset without one, split its samples, fit the
/// schema on the training samples with `fitSchema`, and install it with `setSchema`
/// before asking for batches. Without a schema the metadata width is 0.
///
/// Sample `i` is table row `rows[i]`. Rows keep their table order; rows with an invalid
/// label are dropped only with `dropInvalidLabels`. Every remaining row must have an
/// image, or construction throws naming the `isic_id`. Images that no row names are
/// not used; they are counted in `imagesWithoutRows`, for the caller to report.
public final class LesionDataset: @unchecked Sendable {
    /// Choices about imperfect data.
    public struct Options: Sendable {
        /// Drop rows whose label is missing or invalid (listed in `droppedRows`) instead
        /// of throwing for the first one.
        public var dropInvalidLabels = false
        /// Replace an undecodable image by a blank one and record it in `skippedImages`
        /// instead of throwing.
        public var skipBadImages = false
        public init() {}
    }

    public let table: CSVTable
    public let images: ImageSource
    /// The label reading, or `nil` for prediction without labels (labels are then -1).
    public let labelSpec: LabelSpec?
    private var encoder: MetadataEncoder?
    public let preprocessor: ImagePreprocessor
    public let options: Options

    /// The table row of each sample.
    public let rows: [Int]
    /// The `isic_id` of each sample.
    public let ids: [String]
    /// The class index of each sample (-1 without a label).
    public let labels: [Int32]
    /// The patient (or lesion, or image) group of each sample, for grouped splits.
    public let groups: [String]
    /// The column `groups` came from: `patient_id`, else `lesion_id`, else `nil` (one
    /// group per image).
    public let groupColumn: String?
    /// Rows dropped because of an invalid label.
    public let droppedRows: [LabelSpec.InvalidRow]
    /// Images in the source that no metadata row names (sorted).
    public let imagesWithoutRows: [String]

    /// Guards `encoder` and `skipped`.
    private let stateLock = NSLock()
    private var skipped: [String: String] = [:]

    /// Joins the parts. `preprocessor.imageSize` is only a default; `batch` takes the size.
    public init(table: CSVTable, images: ImageSource, labelSpec: LabelSpec?, schema: MetadataSchema? = nil,
                preprocessor: ImagePreprocessor, options: Options = Options()) throws {
        self.table = table
        self.images = images
        self.labelSpec = labelSpec
        self.encoder = try schema?.encoder(for: table)
        self.preprocessor = preprocessor
        self.options = options

        let idColumn = try table.columnIndex("isic_id")
        var labelOfRow = [Int32](repeating: -1, count: table.rowCount)
        var dropped: [LabelSpec.InvalidRow] = []
        if let labelSpec {
            (labelOfRow, dropped) = try labelSpec.labels(in: table, dropInvalid: options.dropInvalidLabels)
        }
        let droppedSet = Set(dropped.map(\.row))

        var rows: [Int] = []
        var ids: [String] = []
        var seen = Set<String>()
        for row in 0..<table.rowCount where !droppedSet.contains(row) {
            guard let id = table.cell(row: row, column: idColumn) else {
                throw DataError.malformedCSV(path: table.source, line: table.lineNumber(ofRow: row), column: idColumn + 1,
                                             reason: "the isic_id cell is empty")
            }
            guard images.contains(id) else {
                throw DataError.imageNotFound(isicID: id, source: images.location)
            }
            guard seen.insert(id).inserted else {
                throw DataError.malformedCSV(path: table.source, line: table.lineNumber(ofRow: row), column: idColumn + 1,
                                             reason: "isic_id \(id) appears in more than one row")
            }
            rows.append(row)
            ids.append(id)
        }
        self.rows = rows
        self.ids = ids
        self.labels = rows.map { labelOfRow[$0] }
        self.droppedRows = dropped
        let allIDs = Set((0..<table.rowCount).compactMap { table.cell(row: $0, column: idColumn) })
        self.imagesWithoutRows = images.ids.filter { !allIDs.contains($0) }

        let groupColumn = ["patient_id", "lesion_id"].first { table.hasColumn($0) }
        self.groupColumn = groupColumn
        if let groupColumn {
            let column = try table.columnIndex(groupColumn)
            // A row with an empty group cell forms a group of its own.
            groups = zip(rows, ids).map { row, id in table.cell(row: row, column: column) ?? "isic_id:" + id }
        } else {
            groups = ids
        }
    }

    /// The number of samples.
    public var count: Int { rows.count }

    /// The metadata width M.
    public var metadataWidth: Int {
        stateLock.lock()
        defer { stateLock.unlock() }
        return encoder?.width ?? 0
    }

    /// The installed metadata schema, if any.
    public var schema: MetadataSchema? {
        stateLock.lock()
        defer { stateLock.unlock() }
        return encoder?.schema
    }

    /// Fits a schema on the table rows of `trainingSamples` (sample indices), without
    /// installing it.
    public func fitSchema(trainingSamples: [Int], categorical: [String], numeric: [String],
                          softLabel: Float = 0.01) throws -> MetadataSchema {
        try MetadataSchema.fit(table: table, trainingRows: trainingSamples.map { rows[$0] },
                               categorical: categorical, numeric: numeric, softLabel: softLabel)
    }

    /// Installs the schema that encodes metadata in later batches.
    public func setSchema(_ schema: MetadataSchema) throws {
        let encoder = try schema.encoder(for: table)
        stateLock.lock()
        self.encoder = encoder
        stateLock.unlock()
    }

    /// Every image replaced by a blank one so far, as (`isic_id`, reason), sorted.
    public var skippedImages: [(isicID: String, reason: String)] {
        stateLock.lock()
        defer { stateLock.unlock() }
        return skipped.keys.sorted().map { ($0, skipped[$0]!) }
    }

    /// Builds the batch of the given samples. Augmentation draws depend only on
    /// (seed, epoch, sample index), so the batch composition does not change a sample's
    /// pixels. Safe to call from several threads.
    public func batch(indices: [Int], imageSize: Int, augment: Bool, epoch: Int, seed: UInt64) throws -> Batch {
        let b = indices.count
        let planeSize = 3 * imageSize * imageSize
        stateLock.lock()
        let encoder = self.encoder
        stateLock.unlock()
        let width = encoder?.width ?? 0
        var pixels = [Float](repeating: 0, count: b * planeSize)
        var metadata = [Float](repeating: 0, count: b * width)
        var skippedHere: [(isicID: String, reason: String)] = []
        var preprocessor = self.preprocessor
        preprocessor.imageSize = imageSize

        try pixels.withUnsafeMutableBufferPointer { pixelBuffer in
            try metadata.withUnsafeMutableBufferPointer { metadataBuffer in
                for (slot, index) in indices.enumerated() {
                    precondition(index >= 0 && index < count, "sample index \(index) outside 0..<\(count)")
                    let target = pixelBuffer.baseAddress! + slot * planeSize
                    do {
                        let image = try images.image(for: ids[index])
                        preprocessor.process(image, augment: augment, seed: seed, epoch: epoch, index: index, into: target)
                    } catch let error as DataError {
                        guard options.skipBadImages, case .undecodableImage = error else { throw error }
                        // A blank image: every channel at its mean, which normalises to 0.
                        for p in 0..<planeSize { target[p] = 0 }
                        skippedHere.append((ids[index], error.description))
                    }
                    if let encoder, width > 0 {
                        encoder.encode(row: rows[index], into: metadataBuffer.baseAddress! + slot * width)
                    }
                }
            }
        }

        if !skippedHere.isEmpty {
            stateLock.lock()
            for (id, reason) in skippedHere { skipped[id] = reason }
            stateLock.unlock()
        }
        return Batch(count: b, imageSize: imageSize, pixels: pixels, metadata: metadata,
                     labels: indices.map { labels[$0] }, ids: indices.map { ids[$0] },
                     rowIndices: indices.map { rows[$0] }, skippedImages: skippedHere)
    }
}
