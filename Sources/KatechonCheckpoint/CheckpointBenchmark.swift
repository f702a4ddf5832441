import Foundation

/// Writes a checkpoint of `parameterCount` random floats into `directory`, deletes it, and
/// returns its raw and compressed sizes and the seconds the write took, fsync included.
///
/// The values are uniform in [-0.05, 0.05], like freshly initialised weights. Random floats
/// barely compress because their mantissa bits are noise, and zstd only exploits the few
/// exponent values: 100 MB of them compress by a ratio of 1.10 at level 3. Trained weights
/// compress only modestly better.
public func measureCheckpointWrite(parameterCount: Int, directory: URL,
                                   options: CheckpointFile.WriteOptions = CheckpointFile.WriteOptions()) throws
    -> (rawBytes: Int, compressedBytes: Int, seconds: Double) {
    precondition(parameterCount >= 0, "parameterCount must not be negative")

    // Tensors of at most 4 Mi values, as a model has many parameter tensors.
    let tensorSize = 1 << 22
    var generator = SplitMix64(seed: 0x4B43_5054)
    var tensors: [NamedTensor] = []
    var remaining = parameterCount
    while remaining > 0 || tensors.isEmpty {
        let count = min(remaining, tensorSize)
        var values = [Float](repeating: 0, count: count)
        for index in values.indices {
            let unit = Float(generator.next() >> 40) / Float(1 << 24)
            values[index] = (unit - 0.5) * 0.1
        }
        tensors.append(NamedTensor(name: "weight.\(tensors.count)", shape: [count], values: values))
        remaining -= count
    }

    let manifest = Data(#"{"benchmark":true}"#.utf8)
    let url = directory.appendingPathComponent("measure-\(getpid()).kcpt")
    defer { unlink(url.path) }
    let statistics = try CheckpointFile.write(Checkpoint(manifest: manifest, tensors: tensors),
                                              to: url, options: options)
    return (rawBytes: statistics.tensorBytes, compressedBytes: statistics.fileBytes,
            seconds: statistics.seconds)
}

/// SplitMix64 (Steele, Lea and Flood 2014), a small deterministic generator for benchmark data.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
