import Foundation

/// One row of the tensor table.
struct KcptTableEntry {
    var name: String
    var shape: [Int]
    var count: Int
}

extension CheckpointFile {
    /// Reads and verifies a whole checkpoint.
    ///
    /// Throws `CheckpointError` naming the file: `notACheckpoint`, `unsupportedVersion`,
    /// `truncated`, `corrupted` (a zstd error, either checksum, or trailing bytes) or
    /// `inconsistentTable`. The file is only read.
    public static func read(_ url: URL) throws -> Checkpoint {
        let reader = try ZstdFileReader(file: url)
        let manifest = try readHeader(reader)
        let table = try reportingDamageFirst(reader) { try readTable(reader) }

        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(table.count)
        for entry in table {
            let values = try readValues(reader, count: entry.count)
            tensors.append(NamedTensor(name: entry.name, shape: entry.shape, values: values))
        }

        try reportingDamageFirst(reader) { try readEndMarker(reader, tensorCount: table.count) }
        try reader.verifyChecksumFrame()
        return Checkpoint(manifest: manifest, tensors: tensors, file: url)
    }

    /// Reads the manifest and stops, without decompressing the tensors.
    ///
    /// It checks the magic and the version but cannot verify the checksums, which cover the
    /// whole file. Use `read` before trusting the tensors.
    public static func readManifest(_ url: URL) throws -> Data {
        let reader = try ZstdFileReader(file: url)
        return try readHeader(reader)
    }

    /// Checks that the checkpoint contains exactly the expected tensors with the expected
    /// shapes, in any order.
    ///
    /// Throws for the first problem: in `expected` order a missing tensor or a shape
    /// mismatch, then in checkpoint order a tensor the model does not expect.
    public static func checkCompatible(_ checkpoint: Checkpoint,
                                       expected: [(name: String, shape: [Int])]) throws {
        let file = checkpoint.file ?? URL(fileURLWithPath: "(in memory)")
        var shapes: [String: [Int]] = [:]
        for tensor in checkpoint.tensors {
            shapes[tensor.name] = tensor.shape
        }

        for (name, shape) in expected {
            guard let found = shapes[name] else {
                throw CheckpointError.missingTensor(file: file, name: name)
            }
            if found != shape {
                throw CheckpointError.shapeMismatch(file: file, name: name, found: found,
                                                    expected: shape)
            }
        }

        let expectedNames = Set(expected.map(\.name))
        if let extra = checkpoint.tensors.first(where: { !expectedNames.contains($0.name) }) {
            throw CheckpointError.unexpectedTensor(file: file, name: extra.name)
        }
    }

    /// Reads magic, version and manifest.
    static func readHeader(_ reader: ZstdFileReader) throws -> Data {
        let magic = try reader.readBytes(KcptFormat.magic.count)
        if magic != KcptFormat.magic {
            // A flipped byte can garble the magic too, and zstd's content checksum
            // distinguishes that damage from a foreign file. A truncated or unchecksummed
            // stream of another program is still reported as not a checkpoint.
            do {
                try reader.skipRestOfFrame()
            } catch let error as CheckpointError {
                if case .corrupted = error { throw error }
            }
            throw CheckpointError.notACheckpoint(
                file: reader.file,
                reason: "it is a zstd stream, but its content starts with \(hex(magic)) instead "
                    + "of \"KCPT\"")
        }

        return try reportingDamageFirst(reader) {
            let version = try reader.readUInt32()
            if version != KcptFormat.version {
                throw CheckpointError.unsupportedVersion(file: reader.file, found: version,
                                                         supported: KcptFormat.version)
            }
            let length = try reader.readUInt64()
            if length > KcptFormat.maxManifestBytes {
                throw CheckpointError.inconsistentTable(
                    file: reader.file, reason: "the manifest length \(length) exceeds the limit "
                        + "of \(KcptFormat.maxManifestBytes) bytes")
            }
            return Data(try reader.readBytes(Int(length)))
        }
    }

    /// Reads the tensor table and checks each entry.
    static func readTable(_ reader: ZstdFileReader) throws -> [KcptTableEntry] {
        let file = reader.file
        let count = try reader.readUInt32()
        if count > KcptFormat.maxTensorCount {
            throw CheckpointError.inconsistentTable(
                file: file, reason: "the table declares \(count) tensors, more than the limit "
                    + "of \(KcptFormat.maxTensorCount)")
        }

        var entries: [KcptTableEntry] = []
        var names = Set<String>()
        for index in 0..<Int(count) {
            let nameLength = try reader.readUInt32()
            if nameLength > KcptFormat.maxNameBytes {
                throw CheckpointError.inconsistentTable(
                    file: file, reason: "tensor \(index) has a name of \(nameLength) bytes, more "
                        + "than the limit of \(KcptFormat.maxNameBytes)")
            }
            guard let name = String(validating: try reader.readBytes(Int(nameLength)), as: UTF8.self) else {
                throw CheckpointError.inconsistentTable(
                    file: file, reason: "the name of tensor \(index) is not valid UTF-8")
            }
            if !names.insert(name).inserted {
                throw CheckpointError.inconsistentTable(
                    file: file, reason: "tensor \(name) appears twice in the table")
            }

            let dtype = try reader.readUInt32()
            if dtype != KcptFormat.dtypeFloat32 {
                throw CheckpointError.inconsistentTable(
                    file: file, reason: "tensor \(name) has dtype code \(dtype), but version "
                        + "\(KcptFormat.version) stores only F32 (code \(KcptFormat.dtypeFloat32))")
            }

            let rank = try reader.readUInt32()
            if rank > KcptFormat.maxRank {
                throw CheckpointError.inconsistentTable(
                    file: file, reason: "tensor \(name) has rank \(rank), more than the limit of "
                        + "\(KcptFormat.maxRank)")
            }
            var shape: [Int] = []
            var elementCount = 1
            for _ in 0..<rank {
                let dimension = try reader.readUInt64()
                let (product, overflow) = elementCount.multipliedReportingOverflow(
                    by: Int(clamping: dimension))
                if dimension > UInt64(Int.max / 4) || overflow || product > Int.max / 4 {
                    throw CheckpointError.inconsistentTable(
                        file: file, reason: "tensor \(name) has a dimension of \(dimension), "
                            + "which overflows the element count")
                }
                shape.append(Int(dimension))
                elementCount = product
            }
            entries.append(KcptTableEntry(name: name, shape: shape, count: elementCount))
        }
        return entries
    }

    /// Reads `count` floats in chunks, growing the array only as data arrives, so a damaged
    /// count runs into the end of the frame instead of a huge allocation.
    static func readValues(_ reader: ZstdFileReader, count: Int) throws -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(min(count, 1 << 26))
        while values.count < count {
            let chunk = min(KcptFormat.chunkFloats, count - values.count)
            let start = values.count
            values.append(contentsOf: repeatElement(0, count: chunk))
            try values.withUnsafeMutableBufferPointer { buffer in
                let slice = UnsafeMutableBufferPointer(rebasing: buffer[start..<start + chunk])
                try reader.read(into: UnsafeMutableRawBufferPointer(slice))
                #if !_endian(little)
                for index in slice.indices {
                    slice[index] = Float(bitPattern: UInt32(littleEndian: slice[index].bitPattern))
                }
                #endif
            }
        }
        return values
    }

    /// Reads the end marker and checks that the data frame ends right after it.
    static func readEndMarker(_ reader: ZstdFileReader, tensorCount: Int) throws {
        let file = reader.file
        let contentBeforeEnd = reader.contentBytes
        let marker = try reader.readBytes(KcptFormat.endMarker.count)
        if marker != KcptFormat.endMarker {
            throw CheckpointError.inconsistentTable(
                file: file, reason: "the bytes after the last tensor are \(hex(marker)), not the "
                    + "end marker \"KEND\"; the table does not match the data")
        }
        let recordedCount = try reader.readUInt32()
        let recordedBytes = try reader.readUInt64()
        if recordedCount != tensorCount || recordedBytes != contentBeforeEnd {
            throw CheckpointError.inconsistentTable(
                file: file, reason: "the end marker records tensor count \(recordedCount) and "
                    + "content length \(recordedBytes), but the file has tensor count "
                    + "\(tensorCount) and content length \(contentBeforeEnd)")
        }
        let extra = try reader.skipRestOfFrame()
        if extra > 0 {
            throw CheckpointError.inconsistentTable(
                file: file, reason: "\(extra) bytes of content follow the end marker")
        }
    }

    /// Runs `body`; when it finds an inconsistency, first verifies the rest of the file so
    /// that damage is reported as `corrupted` or `truncated` instead.
    static func reportingDamageFirst<T>(_ reader: ZstdFileReader, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CheckpointError {
            switch error {
            case .unsupportedVersion, .inconsistentTable:
                try reader.verifyRest()
                throw error
            default:
                throw error
            }
        }
    }
}
