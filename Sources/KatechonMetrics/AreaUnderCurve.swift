/// Returns the area under the ROC curve of binary `labels` (0 or 1) ranked by `scores`.
///
/// The curve runs over the distinct thresholds and the area is the trapezoid sum, as in
/// scikit-learn's `roc_auc_score`, so a tied positive-negative pair counts one half.
///
/// - Throws: `MetricsError.singleClass` when only one class is present, and the other
///   `MetricsError` cases for empty, mismatched or invalid input.
public func rocAUC(labels: [Int32], scores: [Double]) throws -> Double {
    try ROCCurve(labels: labels, scores: scores).area
}

/// Returns the partial ROC AUC above true positive rate `minTPR`, the ISIC 2024 challenge
/// score, which lies in `0 ... 1 - minTPR` (0 to 0.2 for the default).
///
/// The computation follows the challenge scorer's description:
/// ```
/// flipped label = 1 - label,  flipped score = 1 - score
/// fpr, tpr      = ROC curve of the flipped labels and scores    (see ROCCurve)
/// maxFPR        = 1 - minTPR
/// stop          = number of curve points with fpr <= maxFPR     (searchsorted, side right)
/// end point     = (maxFPR, tpr interpolated linearly between points stop - 1 and stop)
/// partial AUC   = trapezoid area of points 0 ..< stop followed by the end point
/// ```
/// Flipping both labels and scores maps the region of the original curve above TPR `minTPR`
/// onto the flipped curve left of FPR `maxFPR`. The flipped scores are computed as
/// `1.0 - score` in double precision like the scorer's, so scores closer to 0 than about
/// 1e-16 become tied once flipped. With `minTPR == 0` the result is the full AUC.
///
/// - Throws: `MetricsError.invalidMinTPR` unless `0 <= minTPR < 1`,
///   `MetricsError.singleClass` when only one class is present, and the other
///   `MetricsError` cases for empty, mismatched or invalid input.
public func partialAUCAboveTPR(
    labels: [Int32], scores: [Double], minTPR: Double = 0.80
) throws -> Double {
    guard minTPR >= 0, minTPR < 1 else {
        throw MetricsError.invalidMinTPR(minTPR)
    }
    // Validate the caller's arrays first so that errors name the original labels.
    _ = try ROCCurve.validateBinary(labels: labels, scores: scores, metric: "partial AUC")

    let flippedLabels = labels.map { 1 - $0 }
    let flippedScores = scores.map { 1.0 - $0 }
    let curve = try ROCCurve(labels: flippedLabels, scores: flippedScores)
    let fpr = curve.falsePositiveRates
    let tpr = curve.truePositiveRates

    let maxFPR = 1 - minTPR
    if maxFPR == 1 {
        return curve.area
    }

    // fpr[0] is 0 < maxFPR and fpr.last is 1 > maxFPR, so 1 <= stop < fpr.count.
    var stop = 0
    while stop < fpr.count && fpr[stop] <= maxFPR {
        stop += 1
    }
    let endTPR = interpolateLinearly(
        at: maxFPR, from: (fpr[stop - 1], tpr[stop - 1]), to: (fpr[stop], tpr[stop]))

    let truncatedFPR = Array(fpr[0..<stop]) + [maxFPR]
    let truncatedTPR = Array(tpr[0..<stop]) + [endTPR]
    return trapezoidArea(x: truncatedFPR, y: truncatedTPR)
}

/// Returns the value at `x` of the line through `start` and `end`, where
/// `start.x <= x < end.x`, with the same operations as `numpy.interp`.
private func interpolateLinearly(
    at x: Double, from start: (x: Double, y: Double), to end: (x: Double, y: Double)
) -> Double {
    if x == start.x {
        return start.y
    }
    let slope = (end.y - start.y) / (end.x - start.x)
    return slope * (x - start.x) + start.y
}
