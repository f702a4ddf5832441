import KatechonTensor

/// The rule that fills a parameter when the store is allocated.
public enum ParameterInitializer: Sendable {
    case zeros
    case ones
    /// Normal with this standard deviation, truncated at two standard deviations.
    case truncatedNormal(std: Float)
    /// Uniform in [-bound, bound].
    case uniform(bound: Float)
}

/// A handle to one parameter tensor in a `ParameterStore`.
public struct ParameterID: Hashable, Sendable {
    public let index: Int
}

/// All parameters of a model as views into two contiguous buffers.
///
/// Layers declare their parameters by name (timm's names for the ViT) and shape; then
/// `allocate(seed:)` lays them out:
/// - frozen parameters in declaration order in one buffer, with no gradients;
/// - trainable parameters in *reverse* declaration order in another buffer, with a
///   gradient buffer of the same layout.
///
/// Backward visits layers in reverse forward order, so the trainable gradients are
/// completed from offset 0 upwards. A gradient bucket is then a slice of one flat buffer
/// that is complete as soon as backward passes its end, which is what lets the
/// all-reduce of early buckets overlap the rest of backward.
public final class ParameterStore: @unchecked Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let count: Int
        public let trainable: Bool
        public let initializer: ParameterInitializer
        /// Offset within the trainable or the frozen buffer, set by `allocate`.
        public fileprivate(set) var offset: Int
    }

    public private(set) var entries: [Entry] = []
    public private(set) var isAllocated = false

    public private(set) var trainableCount = 0
    public private(set) var frozenCount = 0
    public private(set) var trainableValues = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    public private(set) var trainableGradients = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    public private(set) var frozenValues = UnsafeMutablePointer<Float>.allocate(capacity: 1)

    public init() {}

    deinit {
        trainableValues.deallocate()
        trainableGradients.deallocate()
        frozenValues.deallocate()
    }

    /// Declares a parameter; its storage exists once `allocate` has run.
    public func declare(
        _ name: String, _ shape: [Int], trainable: Bool, initializer: ParameterInitializer
    ) -> ParameterID {
        precondition(!isAllocated, "parameter \(name) declared after allocation")
        precondition(!entries.contains { $0.name == name }, "parameter \(name) declared twice")
        entries.append(Entry(name: name, shape: shape, count: shape.reduce(1, *),
                             trainable: trainable, initializer: initializer, offset: 0))
        return ParameterID(index: entries.count - 1)
    }

    /// Lays out and initialises every declared parameter from `seed`.
    ///
    /// Each parameter draws from its own generator seeded by (seed, declaration index),
    /// so adding a parameter does not change the initial values of the others.
    public func allocate(seed: UInt64) {
        precondition(!isAllocated, "parameter store allocated twice")
        isAllocated = true

        var frozenOffset = 0
        for index in entries.indices where !entries[index].trainable {
            entries[index].offset = frozenOffset
            frozenOffset += entries[index].count
        }
        var trainableOffset = 0
        for index in entries.indices.reversed() where entries[index].trainable {
            entries[index].offset = trainableOffset
            trainableOffset += entries[index].count
        }
        frozenCount = frozenOffset
        trainableCount = trainableOffset

        trainableValues.deallocate()
        trainableGradients.deallocate()
        frozenValues.deallocate()
        trainableValues = .allocate(capacity: max(trainableCount, 1))
        trainableGradients = .allocate(capacity: max(trainableCount, 1))
        frozenValues = .allocate(capacity: max(frozenCount, 1))
        trainableGradients.initialize(repeating: 0, count: max(trainableCount, 1))

        for index in entries.indices {
            var generator = RandomGenerator(seed: RandomGenerator.mix(seed, UInt64(index)))
            let values = value(ParameterID(index: index))
            let count = entries[index].count
            switch entries[index].initializer {
            case .zeros:
                values.initialize(repeating: 0, count: count)
            case .ones:
                values.initialize(repeating: 1, count: count)
            case .truncatedNormal(let std):
                for i in 0..<count { values[i] = generator.nextTruncatedNormal(std: std) }
            case .uniform(let bound):
                for i in 0..<count { values[i] = (2 * generator.nextUniform() - 1) * bound }
            }
        }
    }

    /// Returns the values of a parameter.
    @inline(__always)
    public func value(_ id: ParameterID) -> UnsafeMutablePointer<Float> {
        let entry = entries[id.index]
        return (entry.trainable ? trainableValues : frozenValues) + entry.offset
    }

    /// Returns the gradient of a trainable parameter, or nil for a frozen one.
    @inline(__always)
    public func gradient(_ id: ParameterID) -> UnsafeMutablePointer<Float>? {
        let entry = entries[id.index]
        return entry.trainable ? trainableGradients + entry.offset : nil
    }

    public func isTrainable(_ id: ParameterID) -> Bool {
        entries[id.index].trainable
    }

    /// Returns the end of a trainable parameter's gradient in the flat gradient buffer.
    ///
    /// When backward has finished the layer that declared `id` first, every trainable
    /// gradient below this offset is complete.
    public func gradientEnd(_ id: ParameterID) -> Int {
        let entry = entries[id.index]
        precondition(entry.trainable, "\(entry.name) is frozen and has no gradient")
        return entry.offset + entry.count
    }

    /// Sets every trainable gradient to zero.
    public func zeroGradients() {
        trainableGradients.update(repeating: 0, count: trainableCount)
    }

    /// Returns the ID of the parameter called `name`, if declared.
    public func id(named name: String) -> ParameterID? {
        entries.firstIndex { $0.name == name }.map(ParameterID.init)
    }

    /// Returns a copy of a parameter's values.
    public func values(of id: ParameterID) -> [Float] {
        Array(UnsafeBufferPointer(start: value(id), count: entries[id.index].count))
    }

    /// Returns a copy of a trainable parameter's gradient, or nil for a frozen one.
    public func gradientValues(of id: ParameterID) -> [Float]? {
        gradient(id).map { Array(UnsafeBufferPointer(start: $0, count: entries[id.index].count)) }
    }

    /// Overwrites a parameter's values.
    public func setValues(_ values: [Float], of id: ParameterID) {
        let entry = entries[id.index]
        precondition(values.count == entry.count,
                     "\(entry.name): \(values.count) values for shape \(entry.shape)")
        values.withUnsafeBufferPointer { value(id).update(from: $0.baseAddress!, count: entry.count) }
    }
}
