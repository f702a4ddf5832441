import CZstd
import Foundation

/// Decompresses the data frame of a `.kcpt` file on demand and verifies its checksum frame.
///
/// Every byte the decompressor consumes also feeds a `WordChecksum`, so `verifyChecksumFrame`
/// can compare it with the value the writer appended.
final class ZstdFileReader {
    let file: URL
    private let descriptor: Int32
    private let context: OpaquePointer
    private let inputCapacity = 1 << 20
    private let input: UnsafeMutableRawPointer
    private var inputStart = 0
    private var inputEnd = 0
    private var endOfFile = false
    private var frameFinished = false
    private var checksum = WordChecksum()
    private var checksumFrameVerified = false

    /// Decompressed bytes delivered so far.
    private(set) var contentBytes = 0
    /// Compressed bytes of the data frame consumed so far.
    private(set) var frameBytes = 0

    /// Opens the file and checks that it starts with a zstd frame.
    init(file: URL) throws {
        let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            let code = errno
            if code == ENOENT {
                throw CheckpointError.fileNotFound(file: file)
            }
            throw CheckpointError.ioFailed(file: file, operation: "open", code: code)
        }
        guard let context = ZSTD_createDCtx() else {
            close(descriptor)
            throw CheckpointError.ioFailed(file: file, operation: "ZSTD_createDCtx", code: ENOMEM)
        }
        self.file = file
        self.descriptor = descriptor
        self.context = context
        self.input = UnsafeMutableRawPointer.allocate(byteCount: inputCapacity, alignment: 16)

        while inputEnd < 4, try readMore() > 0 {}
        let head = Array(UnsafeRawBufferPointer(start: input, count: min(inputEnd, 4)))
        if head.isEmpty {
            throw CheckpointError.truncated(file: file, reason: "the file is empty")
        }
        if head != KcptFormat.zstdFrameMagic {
            if head.count < 4 && Array(KcptFormat.zstdFrameMagic.prefix(head.count)) == head {
                throw CheckpointError.truncated(
                    file: file, reason: "the file ends after \(head.count) of the 4 bytes of the zstd magic")
            }
            throw CheckpointError.notACheckpoint(
                file: file,
                reason: "it starts with bytes \(hex(head)), not the zstd frame magic "
                    + hex(KcptFormat.zstdFrameMagic))
        }
    }

    deinit {
        ZSTD_freeDCtx(context)
        close(descriptor)
        input.deallocate()
    }

    /// Moves unread input to the front of the buffer and reads more; returns the bytes read.
    private func readMore() throws -> Int {
        if inputStart > 0 {
            input.copyMemory(from: input + inputStart, byteCount: inputEnd - inputStart)
            inputEnd -= inputStart
            inputStart = 0
        }
        while true {
            let count = Glibc.read(descriptor, input + inputEnd, inputCapacity - inputEnd)
            if count < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.ioFailed(file: file, operation: "read", code: errno)
            }
            inputEnd += count
            if count == 0 { endOfFile = true }
            return count
        }
    }

    /// Fills `destination` with the next decompressed bytes of the data frame.
    ///
    /// Throws `truncated` when the file or the frame ends first and `corrupted` on a zstd
    /// error, which includes a content checksum mismatch at the end of the frame.
    func read(into destination: UnsafeMutableRawBufferPointer) throws {
        var produced = 0
        while produced < destination.count {
            if frameFinished {
                // zstd verified the content checksum at the end of the frame, so unless the
                // checksum frame disagrees, the writer wrote less than the table declares.
                try verifyChecksumFrame()
                throw CheckpointError.inconsistentTable(
                    file: file,
                    reason: "the data frame ends after \(contentBytes) decompressed bytes, "
                        + "before the tensor table and the end marker are complete")
            }
            let output = try decompress(into: destination.baseAddress! + produced,
                                        capacity: destination.count - produced)
            produced += output
        }
    }

    /// Runs one decompression call; returns the number of bytes it produced.
    private func decompress(into destination: UnsafeMutableRawPointer, capacity: Int) throws -> Int {
        if inputStart == inputEnd && !endOfFile {
            _ = try readMore()
        }
        var output = ZSTD_outBuffer(dst: destination, size: capacity, pos: 0)
        var source = ZSTD_inBuffer(src: input + inputStart, size: inputEnd - inputStart, pos: 0)
        let hint = ZSTD_decompressStream(context, &output, &source)

        checksum.update(UnsafeRawBufferPointer(start: input + inputStart, count: source.pos))
        inputStart += source.pos
        frameBytes += source.pos
        contentBytes += output.pos

        if ZSTD_isError(hint) != 0 {
            let name = String(cString: ZSTD_getErrorName(hint))
            throw CheckpointError.corrupted(
                file: file, reason: "zstd reports \"\(name)\" while decoding the data frame")
        }
        if hint == 0 {
            frameFinished = true
        } else if output.pos == 0 && source.pos == 0 && inputStart == inputEnd && endOfFile {
            // A damaged block size also makes zstd wait for bytes past the end. A truncated
            // file has lost its checksum frame, a damaged one still ends with it.
            if endsWithChecksumFrame() {
                throw CheckpointError.corrupted(
                    file: file, reason: "the zstd data frame runs past the checksum frame at "
                        + "the end of the file")
            }
            throw CheckpointError.truncated(
                file: file, reason: "the file ends after \(frameBytes) bytes, inside the zstd "
                    + "data frame")
        }
        return output.pos
    }

    /// Returns whether the last bytes of the file have the form of a checksum frame.
    private func endsWithChecksumFrame() -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int(status.st_size) >= KcptFormat.checksumFrameLength else {
            return false
        }
        var tail = [UInt8](repeating: 0, count: KcptFormat.checksumFrameLength)
        let offset = off_t(Int(status.st_size) - KcptFormat.checksumFrameLength)
        let count = tail.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
        return count == KcptFormat.checksumFrameLength
            && tail.loadLittleEndianUInt32(at: 0) == KcptFormat.skippableFrameMagic
            && tail.loadLittleEndianUInt32(at: 4) == 12
            && Array(tail[8..<12]) == KcptFormat.checksumTag
    }

    /// Reads `count` bytes, growing the array in chunks so that a damaged length runs into
    /// the end of the frame before it can request a huge allocation.
    func readBytes(_ count: Int) throws -> [UInt8] {
        let chunkBytes = 1 << 20
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(count, chunkBytes))
        while bytes.count < count {
            let start = bytes.count
            let chunk = min(chunkBytes, count - start)
            bytes.append(contentsOf: repeatElement(0, count: chunk))
            try bytes.withUnsafeMutableBytes { buffer in
                try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[start..<start + chunk]))
            }
        }
        return bytes
    }

    func readUInt32() throws -> UInt32 {
        var value: UInt32 = 0
        try withUnsafeMutableBytes(of: &value) { try read(into: $0) }
        return UInt32(littleEndian: value)
    }

    func readUInt64() throws -> UInt64 {
        var value: UInt64 = 0
        try withUnsafeMutableBytes(of: &value) { try read(into: $0) }
        return UInt64(littleEndian: value)
    }

    /// Decompresses the rest of the data frame and discards it; returns its length.
    @discardableResult
    func skipRestOfFrame() throws -> Int {
        let scratchCapacity = 1 << 16
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchCapacity, alignment: 16)
        defer { scratch.deallocate() }
        var skipped = 0
        while !frameFinished {
            skipped += try decompress(into: scratch, capacity: scratchCapacity)
        }
        return skipped
    }

    /// Checks that the data frame has ended, then that the checksum frame follows with the
    /// checksum of the data frame, and that nothing follows it.
    func verifyChecksumFrame() throws {
        precondition(frameFinished, "verifyChecksumFrame needs the data frame decoded to its end")
        if checksumFrameVerified { return }

        var tail = Array(UnsafeRawBufferPointer(start: input + inputStart,
                                                count: inputEnd - inputStart))
        inputStart = inputEnd
        while tail.count <= KcptFormat.checksumFrameLength, !endOfFile {
            _ = try readMore()
            tail += UnsafeRawBufferPointer(start: input + inputStart, count: inputEnd - inputStart)
            inputStart = inputEnd
        }
        var extraBytes = max(0, tail.count - KcptFormat.checksumFrameLength)
        while !endOfFile {
            extraBytes += try readMore()
            inputStart = inputEnd
        }

        if tail.isEmpty {
            throw CheckpointError.truncated(
                file: file, reason: "the file ends right after the data frame, without the "
                    + "checksum frame")
        }
        if tail.count < KcptFormat.checksumFrameLength {
            throw CheckpointError.truncated(
                file: file, reason: "the file ends \(tail.count) bytes into the "
                    + "\(KcptFormat.checksumFrameLength)-byte checksum frame")
        }
        let magic = tail.loadLittleEndianUInt32(at: 0)
        let size = tail.loadLittleEndianUInt32(at: 4)
        let tag = Array(tail[8..<12])
        if magic != KcptFormat.skippableFrameMagic || size != 12 || tag != KcptFormat.checksumTag {
            throw CheckpointError.corrupted(
                file: file, reason: "the \(KcptFormat.checksumFrameLength) bytes after the data "
                    + "frame (\(hex(Array(tail.prefix(12)))) ...) are not the checksum frame")
        }
        if extraBytes > 0 {
            throw CheckpointError.corrupted(
                file: file, reason: "\(extraBytes) unexpected bytes follow the checksum frame")
        }
        let recorded = tail.loadLittleEndianUInt64(at: 12)
        let computed = checksum.value
        if recorded != computed {
            throw CheckpointError.corrupted(
                file: file, reason: "the checksum of the compressed data is "
                    + "\(String(computed, radix: 16)), but the file records "
                    + String(recorded, radix: 16))
        }
        checksumFrameVerified = true
    }

    /// Decodes the rest of the file and verifies both checksums. A caller that found an
    /// inconsistency in the content runs this first, so that damage is reported as
    /// `corrupted` or `truncated` rather than as the inconsistency it caused.
    func verifyRest() throws {
        try skipRestOfFrame()
        try verifyChecksumFrame()
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
}

extension Array where Element == UInt8 {
    func loadLittleEndianUInt32(at offset: Int) -> UInt32 {
        withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }

    func loadLittleEndianUInt64(at offset: Int) -> UInt64 {
        withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }
}
