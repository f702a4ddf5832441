/// Returns the confusion matrix of class indices in `0..<classCount`: entry `[t][p]` counts
/// the samples of true class `t` predicted as class `p` (rows are true classes, columns are
/// predicted classes, as in scikit-learn's `confusion_matrix`).
///
/// - Throws: `MetricsError` when the arrays are empty or differ in length, `classCount < 1`,
///   or a label or prediction lies outside `0..<classCount`.
public func confusionMatrix(
    labels: [Int32], predictions: [Int32], classCount: Int
) throws -> [[Int]] {
    let metric = "confusion matrix"
    guard classCount >= 1 else {
        throw MetricsError.invalidClassCount(classCount)
    }
    guard !labels.isEmpty else {
        throw MetricsError.empty(metric: metric)
    }
    guard labels.count == predictions.count else {
        throw MetricsError.lengthMismatch(
            metric: metric, labels: labels.count, other: "predictions",
            otherCount: predictions.count)
    }

    var matrix = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
    for index in labels.indices {
        let label = labels[index]
        let prediction = predictions[index]
        guard label >= 0, Int(label) < classCount else {
            throw MetricsError.classOutOfRange(
                array: "label", index: index, value: label, classCount: classCount)
        }
        guard prediction >= 0, Int(prediction) < classCount else {
            throw MetricsError.classOutOfRange(
                array: "prediction", index: index, value: prediction, classCount: classCount)
        }
        matrix[Int(label)][Int(prediction)] += 1
    }
    return matrix
}

/// Returns the recall of each class, `correct predictions of c / true samples of c`, or `nil`
/// for a class with no true sample.
///
/// This matches scikit-learn's `recall_score(average=None, zero_division=nan)`. With its
/// default `zero_division`, scikit-learn reports 0 for a class with no true sample instead.
///
/// - Throws: the errors of ``confusionMatrix(labels:predictions:classCount:)``.
public func recall(labels: [Int32], predictions: [Int32], classCount: Int) throws -> [Double?] {
    let matrix = try confusionMatrix(labels: labels, predictions: predictions, classCount: classCount)
    return recall(confusion: matrix)
}

/// Returns the balanced accuracy: the mean recall over the classes that have at least one
/// true sample, as scikit-learn's `balanced_accuracy_score`.
///
/// NOTE: a class with no true sample is left out of the mean instead of counting as 0, as
/// scikit-learn does (it warns about it). Wrong predictions of that class still lower the
/// recall of the true classes they were made for.
///
/// - Throws: the errors of ``confusionMatrix(labels:predictions:classCount:)``.
public func balancedAccuracy(labels: [Int32], predictions: [Int32], classCount: Int) throws -> Double {
    let matrix = try confusionMatrix(labels: labels, predictions: predictions, classCount: classCount)
    return balancedAccuracy(recall: recall(confusion: matrix))
}

/// Returns the per-class recall of a confusion matrix whose rows are true classes.
func recall(confusion: [[Int]]) -> [Double?] {
    confusion.indices.map { trueClass -> Double? in
        let row = confusion[trueClass]
        let trueSamples = row.reduce(0, +)
        guard trueSamples > 0 else {
            return nil
        }
        return Double(row[trueClass]) / Double(trueSamples)
    }
}

/// Returns the mean of the defined recalls, summed in NumPy's pairwise order like `np.mean`.
func balancedAccuracy(recall: [Double?]) -> Double {
    let defined = recall.compactMap { $0 }
    precondition(!defined.isEmpty, "balancedAccuracy: no class has a true sample")
    return pairwiseSum(defined) / Double(defined.count)
}
