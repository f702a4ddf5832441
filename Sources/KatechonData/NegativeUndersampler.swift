/// Per-epoch undersampling of negatives: every positive is kept and
/// `negativesPerPositive` negatives per positive are drawn without replacement,
/// afresh each epoch from (seed, epoch) only, so every rank and a resumed run draw
/// the same set.
public enum NegativeUndersampler {
    /// Returns the kept samples of `indices`, ascending. A negative is a sample with
    /// label 0; all others are kept. When fewer negatives exist than requested, all are
    /// kept.
    public static func sample(indices: [Int], labels: [Int32], negativesPerPositive: Double,
                              seed: UInt64, epoch: Int) -> [Int] {
        precondition(negativesPerPositive >= 0, "negatives per positive must be non-negative")
        var negatives = indices.filter { labels[$0] == 0 }
        let positives = indices.filter { labels[$0] != 0 }
        let wanted = min(negatives.count, Int((Double(positives.count) * negativesPerPositive).rounded()))

        // Index -2 keeps this stream apart from the per-sample augmentation streams.
        var random = SampleRandom(seed: seed, epoch: epoch, index: -2)
        random.shuffle(&negatives)
        return (positives + negatives.prefix(wanted)).sorted()
    }
}
