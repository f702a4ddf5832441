/// A contiguous, row-major Float32 array with a shape.
///
/// The storage is one allocation owned by the tensor and freed with it. Kernels take
/// `pointer` directly, so hot loops see raw memory without bounds checks or reference
/// counting per element.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates a tensor of `shape` filled with zeros.
    public init(_ shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        self.pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// Allocates a tensor of `shape` holding a copy of `values`.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    deinit {
        pointer.deallocate()
    }

    /// The values as a Swift array (a copy).
    public var values: [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// The storage as a buffer pointer, valid for the tensor's lifetime.
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) {
        pointer.update(repeating: value, count: count)
    }
}
