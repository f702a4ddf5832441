/// Constants of the `.kcpt` layout, shared by the writer and the reader.
///
/// A `.kcpt` file is two zstd frames. The first, a data frame with zstd's content checksum,
/// decompresses to (all integers little-endian):
///
///     "KCPT"  version: UInt32  manifestLength: UInt64  manifest: UTF-8 JSON
///     tensorCount: UInt32
///     tensorCount × (nameLength: UInt32, name: UTF-8, dtype: UInt32, rank: UInt32,
///                    rank × dimension: UInt64)
///     tensorCount × raw Float32 values, row-major, in table order
///     "KEND"  tensorCount: UInt32  contentBytes: UInt64   (bytes before "KEND")
///
/// The second is a zstd skippable frame (magic 0x184D2A50, size 12) holding "KSUM" and a
/// `WordChecksum` of every byte of the data frame. zstd's own checksum covers only the
/// decompressed content, so it misses a flipped frame-header bit that does not change the
/// decoded output, such as the unused descriptor bit or a larger window size. `zstd -d`
/// decodes the file and skips the checksum frame.
enum KcptFormat {
    static let magic: [UInt8] = Array("KCPT".utf8)
    static let endMarker: [UInt8] = Array("KEND".utf8)
    static let checksumTag: [UInt8] = Array("KSUM".utf8)
    static let version: UInt32 = 1

    /// The dtype code of Float32 in the tensor table, the only dtype of version 1.
    static let dtypeFloat32: UInt32 = 1

    /// The first four bytes of every zstd data frame (RFC 8878, section 3.1.1).
    static let zstdFrameMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
    /// The magic of the skippable frame that carries the checksum, the first of the sixteen
    /// skippable magics of RFC 8878, section 3.1.2.
    static let skippableFrameMagic: UInt32 = 0x184D_2A50
    /// Skippable frame magic and size, then the tag and the 64-bit checksum.
    static let checksumFrameLength = 4 + 4 + 4 + 8

    /// Limits that keep a damaged table from requesting absurd allocations before the
    /// checksums have been verified. They are far above any Katechon model.
    static let maxManifestBytes: UInt64 = 1 << 32
    static let maxTensorCount: UInt32 = 1 << 24
    static let maxNameBytes: UInt32 = 1 << 16
    static let maxRank: UInt32 = 16

    /// The number of floats compressed or decompressed per call.
    static let chunkFloats = 1 << 18
}
