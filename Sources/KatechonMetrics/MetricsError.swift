/// An input that a metric cannot be computed on, with the offending value.
public enum MetricsError: Error, Equatable, CustomStringConvertible {
    /// The metric received no samples.
    case empty(metric: String)

    /// Two arrays that must describe the same samples have different lengths.
    case lengthMismatch(metric: String, labels: Int, other: String, otherCount: Int)

    /// A binary label is neither 0 nor 1.
    case invalidBinaryLabel(index: Int, value: Int32)

    /// A class index lies outside `0..<classCount`.
    case classOutOfRange(array: String, index: Int, value: Int32, classCount: Int)

    /// A score is NaN or infinite.
    case nonFiniteScore(index: Int, value: Double)

    /// Every label has the same class, so ROC AUC is undefined.
    case singleClass(label: Int32, count: Int)

    /// No label is 1, so a sensitivity is undefined.
    case noPositives(count: Int)

    /// A patient id is empty, so the sample cannot be grouped with its patient.
    case missingPatientID(index: Int)

    /// The minimum true positive rate of the partial AUC lies outside `0 ..< 1`.
    case invalidMinTPR(Double)

    /// The class count is below 1.
    case invalidClassCount(Int)

    /// Two classes share a name, so the recall per class name would be ambiguous.
    case duplicateClassName(String, firstIndex: Int, secondIndex: Int)

    /// The plot size in pixels is too small to draw axes and a curve.
    case invalidPlotSize(Int, minimum: Int)

    /// libpng failed to write the image.
    case pngWriteFailed(path: String, message: String)

    public var description: String {
        switch self {
        case let .empty(metric):
            return "\(metric): no samples were given; evaluate on at least one sample"
        case let .lengthMismatch(metric, labels, other, otherCount):
            return "\(metric): \(labels) labels but \(otherCount) \(other); "
                + "pass exactly one value of \(other) per label"
        case let .invalidBinaryLabel(index, value):
            return "invalid binary label \(value) at sample \(index); binary labels must be 0 or 1"
        case let .classOutOfRange(array, index, value, classCount):
            return "\(array) value \(value) at sample \(index) is outside the classes "
                + "0..<\(classCount); check the class list"
        case let .nonFiniteScore(index, value):
            return "score \(value) at sample \(index) is not finite; scores must be finite numbers"
        case let .singleClass(label, count):
            return "the label has only class \(label) (all \(count) samples), so AUC is undefined; "
                + "evaluate on samples that contain both class 0 and class 1"
        case let .noPositives(count):
            return "none of the \(count) labels is 1, so sensitivity is undefined; "
                + "evaluate on samples that contain at least one positive"
        case let .missingPatientID(index):
            return "patient id of sample \(index) is empty; give every sample its patient id "
                + "or leave out patient ids altogether"
        case let .invalidMinTPR(value):
            return "minimum true positive rate \(value) is invalid; it must lie in 0 ..< 1"
        case let .invalidClassCount(count):
            return "class count \(count) is invalid; pass at least one class"
        case let .duplicateClassName(name, firstIndex, secondIndex):
            return "class name \"\(name)\" is given to both class \(firstIndex) and class \(secondIndex); "
                + "give every class a distinct name"
        case let .invalidPlotSize(size, minimum):
            return "ROC plot size \(size) pixels is too small; use at least \(minimum)"
        case let .pngWriteFailed(path, message):
            return "writing the PNG file \(path) failed: \(message)"
        }
    }
}
