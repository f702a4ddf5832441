/// The metrics that `evaluate` and `score` print as one JSON object.
///
/// Binary labels give
/// `{"auc": ..., "pauc_tpr80": ..., "top15_sensitivity": ..., "count": ..., "positives": ...}`,
/// where `top15_sensitivity` appears only when patient ids were given. Multiclass labels give
/// `{"balanced_accuracy": ..., "recall": {"class name": ...}, "confusion": [[...]], "count": ...}`.
/// Keys keep this order and doubles carry 17 significant digits.
public enum MetricsReport: Equatable, Sendable {
    case binary(Binary)
    case multiclass(Multiclass)

    /// Metrics of 0/1 labels ranked by the score of class 1.
    public struct Binary: Equatable, Sendable {
        /// ROC AUC.
        public let auc: Double

        /// ISIC 2024 partial AUC above 80% true positive rate, in 0 ... 0.2.
        public let partialAUCTPR80: Double

        /// Top-15 sensitivity per patient, or `nil` when no patient ids were given.
        public let top15Sensitivity: Double?

        /// Number of samples.
        public let count: Int

        /// Number of samples with label 1.
        public let positives: Int

        /// Computes the metrics of `labels` ranked by `scores`, grouped by `patientIDs` for the
        /// top-15 sensitivity when they are given.
        ///
        /// - Throws: `MetricsError` for empty, mismatched, invalid or single-class input.
        public init(labels: [Int32], scores: [Double], patientIDs: [String]? = nil) throws {
            let curve = try ROCCurve(labels: labels, scores: scores)
            auc = curve.area
            partialAUCTPR80 = try partialAUCAboveTPR(labels: labels, scores: scores, minTPR: 0.80)
            if let patientIDs {
                top15Sensitivity = try KatechonMetrics.top15Sensitivity(
                    labels: labels, scores: scores, patientIDs: patientIDs)
            } else {
                top15Sensitivity = nil
            }
            count = labels.count
            positives = curve.positives
        }
    }

    /// Metrics of class indices against predicted class indices.
    public struct Multiclass: Equatable, Sendable {
        /// Mean recall over the classes with at least one true sample.
        public let balancedAccuracy: Double

        /// Recall per class, `nil` for a class with no true sample.
        public let recall: [Double?]

        /// Class names, in class index order.
        public let classNames: [String]

        /// Confusion matrix: rows are true classes, columns are predicted classes.
        public let confusion: [[Int]]

        /// Number of samples.
        public let count: Int

        /// Computes the metrics of `labels` against `predictions`, both indices into
        /// `classNames`.
        ///
        /// - Throws: `MetricsError` for empty, mismatched or out-of-range input, or an empty
        ///   class list or duplicate class names.
        public init(labels: [Int32], predictions: [Int32], classNames: [String]) throws {
            guard !classNames.isEmpty else {
                throw MetricsError.invalidClassCount(0)
            }
            var firstIndexOfName: [String: Int] = [:]
            for (index, name) in classNames.enumerated() {
                if let firstIndex = firstIndexOfName[name] {
                    throw MetricsError.duplicateClassName(
                        name, firstIndex: firstIndex, secondIndex: index)
                }
                firstIndexOfName[name] = index
            }
            confusion = try confusionMatrix(
                labels: labels, predictions: predictions, classCount: classNames.count)
            recall = KatechonMetrics.recall(confusion: confusion)
            balancedAccuracy = KatechonMetrics.balancedAccuracy(recall: recall)
            self.classNames = classNames
            count = labels.count
        }
    }

    /// The report as one line of JSON with keys in the documented order.
    public var json: String {
        switch self {
        case let .binary(metrics):
            var members: [(key: String, value: String)] = [
                ("auc", JSONText.number(metrics.auc)),
                ("pauc_tpr80", JSONText.number(metrics.partialAUCTPR80)),
            ]
            if let sensitivity = metrics.top15Sensitivity {
                members.append(("top15_sensitivity", JSONText.number(sensitivity)))
            }
            members.append(("count", String(metrics.count)))
            members.append(("positives", String(metrics.positives)))
            return JSONText.object(members)

        case let .multiclass(metrics):
            let recallMembers = zip(metrics.classNames, metrics.recall).map { name, value in
                (key: name, value: value.map(JSONText.number) ?? "null")
            }
            let rows = metrics.confusion.map { row in
                "[" + row.map(String.init).joined(separator: ", ") + "]"
            }
            return JSONText.object([
                ("balanced_accuracy", JSONText.number(metrics.balancedAccuracy)),
                ("recall", JSONText.object(recallMembers)),
                ("confusion", "[" + rows.joined(separator: ", ") + "]"),
                ("count", String(metrics.count)),
            ])
        }
    }
}
