import CZstd

/// A named Float32 tensor as it is stored on disk: row-major values and their shape.
///
/// Safetensors files and `.kcpt` checkpoints both read and write this type, so the model
/// and the trainer exchange weights as plain values without knowing either format.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count,
                     "tensor \(name): shape \(shape) does not match \(values.count) values")
        self.name = name
        self.shape = shape
        self.values = values
    }
}
