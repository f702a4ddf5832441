import Foundation
import KatechonTensor

/// Adam with decoupled weight decay over a store's trainable parameters, with PyTorch's
/// `torch.optim.AdamW` semantics.
///
/// For each trainable value p with gradient g, at step t (counted from 1):
///
///     p ← p · (1 − lr·λ)                       (only where weight decay applies)
///     m ← β1·m + (1 − β1)·g
///     v ← β2·v + (1 − β2)·g²
///     p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
///
/// - `m` and `v` are flat buffers laid out exactly as `store.trainableValues`, so a
///   checkpoint stores them as two flat tensors.
/// - Weight decay skips biases, norm weights and embeddings: every parameter with at
///   most one dimension, every name ending in `.bias`, and `cls_token` / `pos_embed`.
public final class AdamW {
    public let store: ParameterStore
    public var weightDecay: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// Steps taken so far; the next `step` uses t = stepCount + 1.
    public private(set) var stepCount: Int = 0

    private let firstMoment: UnsafeMutablePointer<Float>
    private let secondMoment: UnsafeMutablePointer<Float>
    private let count: Int
    /// Trainable buffer ranges that receive weight decay.
    public let decayedRanges: [Range<Int>]

    public init(store: ParameterStore, weightDecay: Float = 0.05, beta1: Float = 0.9,
                beta2: Float = 0.999, epsilon: Float = 1e-8) {
        precondition(store.isAllocated, "AdamW needs an allocated parameter store")
        self.store = store
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        count = store.trainableCount
        firstMoment = .allocate(capacity: max(count, 1))
        firstMoment.initialize(repeating: 0, count: max(count, 1))
        secondMoment = .allocate(capacity: max(count, 1))
        secondMoment.initialize(repeating: 0, count: max(count, 1))
        decayedRanges = store.entries
            .filter { $0.trainable && Self.appliesWeightDecay(name: $0.name, shape: $0.shape) }
            .map { $0.offset..<($0.offset + $0.count) }
            .sorted { $0.lowerBound < $1.lowerBound }
    }

    deinit {
        firstMoment.deallocate()
        secondMoment.deallocate()
    }

    /// Returns whether the parameter `name` of `shape` gets weight decay (timm's rule: not biases,
    /// norm weights or position and class embeddings).
    public static func appliesWeightDecay(name: String, shape: [Int]) -> Bool {
        if shape.count <= 1 || name.hasSuffix(".bias") { return false }
        let last = name.split(separator: ".").last.map(String.init) ?? name
        return last != "cls_token" && last != "pos_embed"
    }

    /// Updates every trainable parameter from `store.trainableGradients`.
    public func step(learningRate: Float) {
        stepCount += 1
        let values = store.trainableValues
        let gradients = store.trainableGradients

        // p ← p · (1 − lr·λ) where weight decay applies
        let decay = Float(1 - Double(learningRate) * Double(weightDecay))
        for range in decayedRanges {
            for i in range { values[i] *= decay }
        }

        // m, v and the bias-corrected update, with PyTorch's order of operations
        let t = Double(stepCount)
        let biasCorrection1 = 1 - pow(Double(beta1), t)
        let biasCorrection2 = 1 - pow(Double(beta2), t)
        let stepSize = Float(Double(learningRate) / biasCorrection1)
        let correction2Sqrt = Float(biasCorrection2.squareRoot())
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let first = firstMoment, second = secondMoment
        // Every element is updated on its own, eight lanes at a time with the same
        // operations as one at a time, so the result does not depend on the split.
        ParallelFor.ranges(count, minimumPerThread: 65_536) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let g = Self.load(gradients + i)
                let m0 = Self.load(first + i)
                let v0 = Self.load(second + i)
                let p0 = Self.load(values + i)
                let m = m0 + (g - m0) * (1 - b1)
                let v = v0 * b2 + (1 - b2) * g * g
                let denominator = v.squareRoot() / correction2Sqrt + eps
                let p = p0 - stepSize * (m / denominator)
                Self.store(m, to: first + i)
                Self.store(v, to: second + i)
                Self.store(p, to: values + i)
                i += 8
            }
            while i < range.upperBound {
                let g = gradients[i]
                let m = first[i] + (g - first[i]) * (1 - b1)
                let v = second[i] * b2 + (1 - b2) * g * g
                first[i] = m
                second[i] = v
                let denominator = v.squareRoot() / correction2Sqrt + eps
                values[i] -= stepSize * (m / denominator)
                i += 1
            }
        }
    }

    @inline(__always)
    private static func load(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func store(_ vector: SIMD8<Float>, to pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: SIMD8<Float>.self)
    }

    /// m and v as flat arrays in `store.trainableValues` layout, for checkpoints.
    public var moments: (first: [Float], second: [Float]) {
        (Array(UnsafeBufferPointer(start: firstMoment, count: count)),
         Array(UnsafeBufferPointer(start: secondMoment, count: count)))
    }

    /// Restores the step count and both moments from a checkpoint.
    public func restore(stepCount: Int, first: [Float], second: [Float]) throws {
        guard first.count == count, second.count == count else {
            throw AdamWStateError(expected: count, first: first.count, second: second.count)
        }
        guard stepCount >= 0 else {
            throw AdamWStateError(expected: count, first: first.count, second: second.count,
                                  stepCount: stepCount)
        }
        self.stepCount = stepCount
        first.withUnsafeBufferPointer { firstMoment.update(from: $0.baseAddress!, count: count) }
        second.withUnsafeBufferPointer { secondMoment.update(from: $0.baseAddress!, count: count) }
    }
}

/// Optimizer state that does not fit the model's trainable parameters.
public struct AdamWStateError: Error, CustomStringConvertible, Equatable {
    public let expected: Int
    public let first: Int
    public let second: Int
    public var stepCount: Int = 0

    public var description: String {
        if stepCount < 0 {
            return "invalid AdamW state: step count \(stepCount) is negative"
        }
        return "invalid AdamW state: moments have \(first) and \(second) values but the model has "
            + "\(expected) trainable values; check that the checkpoint matches the model "
            + "configuration and --trainable-blocks"
    }
}
