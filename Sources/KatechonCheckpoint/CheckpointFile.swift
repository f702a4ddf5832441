import Foundation

/// Reads and writes `.kcpt` checkpoint files; `KcptFormat` documents the layout.
///
/// `write` writes one file in place. `CheckpointWriter` adds the temporary file, fsync and
/// rename that make a save atomic.
public enum CheckpointFile {
    /// The format version this build writes and reads.
    public static let formatVersion = KcptFormat.version

    /// zstd settings for writing.
    public struct WriteOptions: Sendable {
        /// zstd compression level; 3 is zstd's default.
        public var level: Int32
        /// zstd worker threads, where 0 compresses on the calling thread. With
        /// `measureCheckpointWrite` (25 M parameters, 100 MB) writing to tmpfs on a 2-core VM
        /// shared with other builds, level 3 took 0.37 to 0.48 s with either 0 or 2 workers,
        /// so the default leaves the cores to training.
        public var workers: Int

        public init(level: Int32 = 3, workers: Int = 0) {
            self.level = level
            self.workers = workers
        }
    }

    /// Sizes and duration of one write.
    public struct WriteStatistics: Sendable {
        /// Bytes of tensor values, 4 per float.
        public var tensorBytes: Int
        /// Bytes of the decompressed content: header, manifest, table, values and end marker.
        public var contentBytes: Int
        /// Bytes of the file.
        public var fileBytes: Int
        /// Seconds from opening the file to the end of its fsync.
        public var seconds: Double
    }

    /// Writes `checkpoint` to `url`, replacing any file there, and fsyncs it.
    ///
    /// A crash during this call leaves a partial file at `url`; save through
    /// `CheckpointWriter` to keep the previous checkpoint safe.
    @discardableResult
    public static func write(_ checkpoint: Checkpoint, to url: URL,
                             options: WriteOptions = WriteOptions()) throws -> WriteStatistics {
        try write(manifest: checkpoint.manifest, tensors: checkpoint.tensors, to: url,
                  options: options, crashAfterFileBytes: nil)
    }

    static func write(manifest: Data, tensors: [NamedTensor], to url: URL,
                      options: WriteOptions, crashAfterFileBytes: Int?) throws -> WriteStatistics {
        let start = DispatchTime.now().uptimeNanoseconds
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            throw CheckpointError.ioFailed(file: url, operation: "open for writing", code: errno)
        }
        defer { close(descriptor) }

        let writer = try ZstdFileWriter(file: url, descriptor: descriptor, options: options)
        writer.crashAfterFileBytes = crashAfterFileBytes
        try writer.write(encodeHeader(manifest: manifest, tensors: tensors))

        var tensorBytes = 0
        for tensor in tensors {
            try writeValues(tensor.values, to: writer)
            tensorBytes += 4 * tensor.values.count
        }

        let contentBeforeEnd = writer.contentBytes
        var end = KcptFormat.endMarker
        end.appendLittleEndian(UInt32(tensors.count))
        end.appendLittleEndian(UInt64(contentBeforeEnd))
        try writer.write(end)
        try writer.finish()

        if fsync(descriptor) != 0 {
            throw CheckpointError.ioFailed(file: url, operation: "fsync", code: errno)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return WriteStatistics(tensorBytes: tensorBytes, contentBytes: writer.contentBytes,
                               fileBytes: writer.fileBytes, seconds: seconds)
    }

    /// Encodes magic, version, manifest and tensor table.
    private static func encodeHeader(manifest: Data, tensors: [NamedTensor]) -> [UInt8] {
        precondition(UInt64(manifest.count) <= KcptFormat.maxManifestBytes,
                     "manifest of \(manifest.count) bytes exceeds the .kcpt limit")
        precondition(tensors.count <= Int(KcptFormat.maxTensorCount),
                     "\(tensors.count) tensors exceed the .kcpt limit")
        precondition(Set(tensors.map(\.name)).count == tensors.count,
                     "checkpoint tensor names must be unique")

        var header = KcptFormat.magic
        header.appendLittleEndian(KcptFormat.version)
        header.appendLittleEndian(UInt64(manifest.count))
        header += manifest
        header.appendLittleEndian(UInt32(tensors.count))
        for tensor in tensors {
            let name = Array(tensor.name.utf8)
            precondition(name.count <= Int(KcptFormat.maxNameBytes) && tensor.shape.count <= Int(KcptFormat.maxRank),
                         "tensor \(tensor.name): name or rank exceeds the .kcpt limit")
            header.appendLittleEndian(UInt32(name.count))
            header += name
            header.appendLittleEndian(KcptFormat.dtypeFloat32)
            header.appendLittleEndian(UInt32(tensor.shape.count))
            for dimension in tensor.shape {
                header.appendLittleEndian(UInt64(dimension))
            }
        }
        return header
    }

    /// Streams the values through the compressor in chunks of `KcptFormat.chunkFloats`.
    private static func writeValues(_ values: [Float], to writer: ZstdFileWriter) throws {
        try values.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = min(KcptFormat.chunkFloats, buffer.count - offset)
                let chunk = UnsafeBufferPointer(rebasing: buffer[offset..<offset + count])
                #if _endian(little)
                try writer.write(UnsafeRawBufferPointer(chunk))
                #else
                let swapped = chunk.map { $0.bitPattern.littleEndian }
                try swapped.withUnsafeBytes { try writer.write($0) }
                #endif
                offset += count
            }
        }
    }
}
