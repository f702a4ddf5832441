import CZstd
import Foundation

/// Compresses bytes into a `.kcpt` data frame and appends the checksum frame on `finish`.
///
/// The caller owns the file descriptor: it opens, fsyncs and closes it.
final class ZstdFileWriter {
    private let file: URL
    private let descriptor: Int32
    private let context: OpaquePointer
    private var output: [UInt8]
    private var checksum = WordChecksum()

    /// Bytes handed to `write` so far.
    private(set) var contentBytes = 0
    /// Bytes written to the file so far, both frames included.
    private(set) var fileBytes = 0

    /// A test hook: after this many file bytes, throw `SimulatedCrash` and write nothing
    /// more, leaving a partial file like a killed process would.
    var crashAfterFileBytes: Int?

    init(file: URL, descriptor: Int32, options: CheckpointFile.WriteOptions) throws {
        guard let context = ZSTD_createCCtx() else {
            throw CheckpointError.ioFailed(file: file, operation: "ZSTD_createCCtx", code: ENOMEM)
        }
        self.file = file
        self.descriptor = descriptor
        self.context = context
        self.output = [UInt8](repeating: 0, count: max(ZSTD_CStreamOutSize(), 1 << 20))

        try setParameter(ZSTD_c_compressionLevel, options.level)
        try setParameter(ZSTD_c_checksumFlag, 1)
        if options.workers > 0 {
            // A libzstd built without threads rejects this; it then compresses on the
            // calling thread, which gives the same bytes more slowly.
            try? setParameter(ZSTD_c_nbWorkers, Int32(options.workers))
        }
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    private func setParameter(_ parameter: ZSTD_cParameter, _ value: Int32) throws {
        let result = ZSTD_CCtx_setParameter(context, parameter, value)
        if ZSTD_isError(result) != 0 {
            let name = String(cString: ZSTD_getErrorName(result))
            throw CheckpointError.compressionFailed(
                file: file, reason: "zstd rejects parameter \(parameter.rawValue) = \(value) with \"\(name)\"")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            _ = try compress(&input, ZSTD_e_continue)
        }
        contentBytes += bytes.count
    }

    /// Ends the data frame and appends the checksum frame.
    func finish() throws {
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try compress(&input, ZSTD_e_end) != 0 {}

        var frame: [UInt8] = []
        frame.appendLittleEndian(KcptFormat.skippableFrameMagic)
        frame.appendLittleEndian(UInt32(KcptFormat.checksumFrameLength - 8))
        frame += KcptFormat.checksumTag
        frame.appendLittleEndian(checksum.value)
        try frame.withUnsafeBytes { try writeToFile($0, addToChecksum: false) }
    }

    /// Runs one compression call and writes what it produced; returns zstd's remaining hint.
    private func compress(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        try output.withUnsafeMutableBytes { buffer in
            var out = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let remaining = ZSTD_compressStream2(context, &out, &input, directive)
            if ZSTD_isError(remaining) != 0 {
                let name = String(cString: ZSTD_getErrorName(remaining))
                throw CheckpointError.compressionFailed(file: file, reason: "zstd reports \"\(name)\"")
            }
            try writeToFile(UnsafeRawBufferPointer(rebasing: buffer[0..<out.pos]), addToChecksum: true)
            return remaining
        }
    }

    private func writeToFile(_ bytes: UnsafeRawBufferPointer, addToChecksum: Bool) throws {
        if addToChecksum {
            checksum.update(bytes)
        }
        var offset = 0
        while offset < bytes.count {
            var length = bytes.count - offset
            if let limit = crashAfterFileBytes {
                length = min(length, limit - fileBytes)
                if length <= 0 { throw SimulatedCrash() }
            }
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, length)
            if written < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.ioFailed(file: file, operation: "write", code: errno)
            }
            offset += written
            fileBytes += written
        }
    }
}

/// Thrown by the `crashAfterFileBytes` test hook in place of a SIGKILL.
struct SimulatedCrash: Error {}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
