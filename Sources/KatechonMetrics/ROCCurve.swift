/// A receiver operating characteristic (ROC) curve over the distinct score thresholds, with
/// the same points as scikit-learn's `roc_curve(labels, scores)` (version 1.9,
/// `drop_intermediate=True`).
///
/// Samples are sorted by score, highest first. Each distinct score is a threshold: every
/// sample scoring at least that much is called positive. Tied samples therefore enter the
/// curve together, as one diagonal step, and the trapezoid area counts each tied
/// positive-negative pair as one half. Points that lie on the straight line between their
/// neighbours are dropped, which leaves the area unchanged. The curve starts at (0, 0) with
/// threshold `+infinity` and ends at (1, 1).
public struct ROCCurve: Equatable, Sendable {
    /// False positive rate at each threshold, ascending from 0 to 1.
    public let falsePositiveRates: [Double]

    /// True positive rate at each threshold, ascending from 0 to 1.
    public let truePositiveRates: [Double]

    /// Score thresholds, descending; the first is `+infinity`.
    public let thresholds: [Double]

    /// Number of samples with label 1.
    public let positives: Int

    /// Number of samples with label 0.
    public let negatives: Int

    /// Builds the curve of binary `labels` (0 or 1) ranked by `scores`.
    ///
    /// - Throws: `MetricsError` when the arrays are empty or differ in length, a label is not
    ///   0 or 1, a score is not finite, or only one class is present.
    public init(labels: [Int32], scores: [Double]) throws {
        let (positives, negatives) = try ROCCurve.validateBinary(
            labels: labels, scores: scores, metric: "ROC curve")
        self.positives = positives
        self.negatives = negatives

        // Step 1: rank samples by score, highest first. The order among tied samples does
        // not matter because a threshold takes all of them at once.
        let order = scores.indices.sorted { scores[$0] > scores[$1] }

        // Step 2: cumulative true and false positives at the last sample of each distinct score.
        var truePositives: [Int] = []
        var falsePositives: [Int] = []
        var distinctScores: [Double] = []
        var runningTruePositives = 0
        for rank in 0..<order.count {
            let sample = order[rank]
            runningTruePositives += Int(labels[sample])
            let isLastOfScore = rank == order.count - 1 || scores[order[rank + 1]] != scores[sample]
            if isLastOfScore {
                truePositives.append(runningTruePositives)
                falsePositives.append(rank + 1 - runningTruePositives)
                distinctScores.append(scores[sample])
            }
        }

        // Step 3: drop points collinear with both neighbours (zero second difference in both
        // counts), exactly as scikit-learn's drop_intermediate does on integer counts.
        var kept: [Int] = []
        let pointCount = truePositives.count
        for i in 0..<pointCount {
            if pointCount <= 2 || i == 0 || i == pointCount - 1 {
                kept.append(i)
                continue
            }
            let falseCurvature = falsePositives[i + 1] - 2 * falsePositives[i] + falsePositives[i - 1]
            let trueCurvature = truePositives[i + 1] - 2 * truePositives[i] + truePositives[i - 1]
            if falseCurvature != 0 || trueCurvature != 0 {
                kept.append(i)
            }
        }

        // Step 4: prepend the origin and divide the counts by the class totals.
        var falsePositiveRates = [0.0]
        var truePositiveRates = [0.0]
        var thresholds = [Double.infinity]
        for i in kept {
            falsePositiveRates.append(Double(falsePositives[i]) / Double(negatives))
            truePositiveRates.append(Double(truePositives[i]) / Double(positives))
            thresholds.append(distinctScores[i])
        }
        self.falsePositiveRates = falsePositiveRates
        self.truePositiveRates = truePositiveRates
        self.thresholds = thresholds
    }

    /// The area under the whole curve by the trapezoid rule, as scikit-learn's `auc`.
    public var area: Double {
        trapezoidArea(x: falsePositiveRates, y: truePositiveRates)
    }

    /// Returns the true positive rate of the curve at `falsePositiveRate`, taking the highest
    /// value where the curve rises vertically and interpolating linearly between points.
    public func truePositiveRate(atFalsePositiveRate falsePositiveRate: Double) -> Double {
        let rates = falsePositiveRates
        if falsePositiveRate < 0 {
            return 0
        }

        // The last point at or left of the requested rate; rates[0] is 0.
        var low = 0
        var high = rates.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if rates[middle] <= falsePositiveRate {
                low = middle
            } else {
                high = middle
            }
        }

        if low == rates.count - 1 || rates[low] == falsePositiveRate {
            return truePositiveRates[low]
        }
        let fraction = (falsePositiveRate - rates[low]) / (rates[low + 1] - rates[low])
        return truePositiveRates[low] + fraction * (truePositiveRates[low + 1] - truePositiveRates[low])
    }

    /// Checks binary labels and scores and returns the number of positives and negatives.
    static func validateBinary(
        labels: [Int32], scores: [Double], metric: String
    ) throws -> (positives: Int, negatives: Int) {
        guard !labels.isEmpty else {
            throw MetricsError.empty(metric: metric)
        }
        guard labels.count == scores.count else {
            throw MetricsError.lengthMismatch(
                metric: metric, labels: labels.count, other: "scores", otherCount: scores.count)
        }

        var positives = 0
        for (index, label) in labels.enumerated() {
            guard label == 0 || label == 1 else {
                throw MetricsError.invalidBinaryLabel(index: index, value: label)
            }
            positives += Int(label)
        }
        for (index, score) in scores.enumerated() where !score.isFinite {
            throw MetricsError.nonFiniteScore(index: index, value: score)
        }

        let negatives = labels.count - positives
        if positives == 0 || negatives == 0 {
            throw MetricsError.singleClass(label: labels[0], count: labels.count)
        }
        return (positives, negatives)
    }
}
