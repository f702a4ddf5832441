import Foundation

/// A grouped, label-stratified K-fold assignment of samples, stored as JSON in the run
/// directory.
///
/// Groups (patients) are shuffled with the seed, then stably sorted by positive count and
/// then size, both descending. Each group goes to the fold with the fewest positives so
/// far, or the fewest samples for a group without positives, ties to the lower fold. So
/// no group spans two folds, and the positive counts of any two folds differ by at most the
/// largest positive count of one group (at most 1 when every group has at most one
/// positive). A positive is a sample with a label other than 0.
public struct FoldSplit: Codable, Sendable, Equatable {
    public let folds: Int
    public let seed: UInt64
    /// The column the groups came from, or `nil` for one group per image.
    public let groupColumn: String?
    /// The `isic_id` of each sample, so the file can be checked against a dataset.
    public let ids: [String]
    /// The fold of each sample.
    public let foldOfSample: [Int]
    /// Positive samples per fold.
    public let positivesPerFold: [Int]
    /// Samples per fold.
    public let samplesPerFold: [Int]

    /// Assigns `ids` (with their `groups` and `labels`) to `folds` folds.
    public static func make(ids: [String], groups: [String], labels: [Int32], folds: Int, seed: UInt64,
                            groupColumn: String?) throws -> FoldSplit {
        precondition(ids.count == groups.count && ids.count == labels.count, "ids, groups and labels differ in length")
        guard folds >= 2 else {
            throw DataError.invalidSetting(name: "--folds", value: String(folds), reason: "need at least 2 folds")
        }

        var members: [String: [Int]] = [:]
        for (sample, group) in groups.enumerated() { members[group, default: []].append(sample) }
        guard members.count >= folds else {
            throw DataError.invalidSetting(name: "--folds", value: String(folds),
                                           reason: "only \(members.count) groups to spread over \(folds) folds")
        }
        var order = members.keys.sorted()
        var random = SampleRandom(seed: seed, epoch: -1, index: -1)
        random.shuffle(&order)
        let positives = members.mapValues { samples in samples.filter { labels[$0] != 0 && labels[$0] >= 0 }.count }
        let sortedGroups = order.enumerated().sorted { a, b in
            let (pa, pb) = (positives[a.element]!, positives[b.element]!)
            if pa != pb { return pa > pb }
            let (sa, sb) = (members[a.element]!.count, members[b.element]!.count)
            if sa != sb { return sa > sb }
            return a.offset < b.offset
        }.map(\.element)

        var foldOfSample = [Int](repeating: -1, count: ids.count)
        var positivesPerFold = [Int](repeating: 0, count: folds)
        var samplesPerFold = [Int](repeating: 0, count: folds)
        for group in sortedGroups {
            let groupPositives = positives[group]!
            let fold = (0..<folds).min { a, b in
                if groupPositives > 0 && positivesPerFold[a] != positivesPerFold[b] {
                    return positivesPerFold[a] < positivesPerFold[b]
                }
                if samplesPerFold[a] != samplesPerFold[b] { return samplesPerFold[a] < samplesPerFold[b] }
                return a < b
            }!
            for sample in members[group]! { foldOfSample[sample] = fold }
            positivesPerFold[fold] += groupPositives
            samplesPerFold[fold] += members[group]!.count
        }
        return FoldSplit(folds: folds, seed: seed, groupColumn: groupColumn, ids: ids, foldOfSample: foldOfSample,
                         positivesPerFold: positivesPerFold, samplesPerFold: samplesPerFold)
    }

    /// Splits a dataset by its groups and labels.
    public static func make(dataset: LesionDataset, folds: Int, seed: UInt64) throws -> FoldSplit {
        try make(ids: dataset.ids, groups: dataset.groups, labels: dataset.labels, folds: folds, seed: seed,
                 groupColumn: dataset.groupColumn)
    }

    /// Returns the samples of every fold but `fold`, ascending.
    public func trainingIndices(fold: Int) throws -> [Int] {
        try check(fold)
        return foldOfSample.indices.filter { foldOfSample[$0] != fold }
    }

    /// Returns the samples of `fold`, ascending.
    public func validationIndices(fold: Int) throws -> [Int] {
        try check(fold)
        return foldOfSample.indices.filter { foldOfSample[$0] == fold }
    }

    private func check(_ fold: Int) throws {
        guard fold >= 0 && fold < folds else {
            throw DataError.invalidSetting(name: "--fold", value: String(fold), reason: "folds are numbered 0..<\(folds)")
        }
    }
}
