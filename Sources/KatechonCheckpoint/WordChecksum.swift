/// A streaming 64-bit checksum of the compressed bytes of a `.kcpt` file.
///
/// Each 64-bit little-endian word `w` updates the state as
///
///     state = (state ^ w) &* 0x9E3779B97F4A7C15
///     state ^= state >> 32
///
/// and the byte count is mixed in last. Every step is a bijection of the state for a fixed
/// word, so a change confined to one word, such as any single flipped byte, always changes
/// the result. It guards against accidental damage only; it is not cryptographic and not a
/// standard checksum.
struct WordChecksum {
    private var state: UInt64 = 0xCBF2_9CE4_8422_2325
    private var pendingWord: UInt64 = 0
    private var pendingBytes = 0
    private(set) var byteCount: UInt64 = 0

    private static func mix(_ state: UInt64, _ word: UInt64) -> UInt64 {
        var next = (state ^ word) &* 0x9E37_79B9_7F4A_7C15
        next ^= next >> 32
        return next
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        var index = 0
        byteCount += UInt64(count)

        // Complete a word left over from the previous call.
        while pendingBytes > 0 && index < count {
            pendingWord |= UInt64(bytes[index]) << UInt64(8 * pendingBytes)
            pendingBytes += 1
            index += 1
            if pendingBytes == 8 {
                state = Self.mix(state, pendingWord)
                pendingWord = 0
                pendingBytes = 0
            }
        }

        while index + 8 <= count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index,
                                                                as: UInt64.self))
            state = Self.mix(state, word)
            index += 8
        }

        while index < count {
            pendingWord |= UInt64(bytes[index]) << UInt64(8 * pendingBytes)
            pendingBytes += 1
            index += 1
        }
    }

    /// The checksum of all bytes passed to `update` so far.
    var value: UInt64 {
        var result = state
        if pendingBytes > 0 {
            result = Self.mix(result, pendingWord)
        }
        return Self.mix(result, byteCount)
    }
}
