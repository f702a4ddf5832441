import Foundation
import KatechonCheckpoint
import KatechonModel

/// Converts between a model with its optimizer and the named tensors of a checkpoint.
///
/// Parameters keep their model names (`image_encoder.blocks.11.attn.qkv.weight`, ...).
/// AdamW's moments of a trainable parameter `p` are stored as `optimizer.exp_avg.p` and
/// `optimizer.exp_avg_sq.p`, PyTorch's names for the first and second moments.
public enum TrainingState {
    public static let firstMomentPrefix = "optimizer.exp_avg."
    public static let secondMomentPrefix = "optimizer.exp_avg_sq."

    /// Returns every parameter, and the optimizer moments when `optimizer` is given.
    public static func tensors(model: MultimodalClassifier, optimizer: AdamW?) -> [NamedTensor] {
        var tensors = model.namedParameters().map { NamedTensor(name: $0.name, shape: $0.shape, values: $0.values) }
        guard let optimizer else { return tensors }

        let store = model.parameterStore
        let (first, second) = optimizer.moments
        for entry in store.entries where entry.trainable {
            let range = entry.offset..<(entry.offset + entry.count)
            tensors.append(NamedTensor(name: firstMomentPrefix + entry.name, shape: entry.shape,
                                       values: Array(first[range])))
            tensors.append(NamedTensor(name: secondMomentPrefix + entry.name, shape: entry.shape,
                                       values: Array(second[range])))
        }
        return tensors
    }

    /// The names and shapes a checkpoint of this model and optimizer must contain.
    public static func expectedTensors(model: MultimodalClassifier, withOptimizer: Bool) -> [(name: String, shape: [Int])] {
        var expected = model.parameterStore.entries.map { (name: $0.name, shape: $0.shape) }
        if withOptimizer {
            for entry in model.parameterStore.entries where entry.trainable {
                expected.append((firstMomentPrefix + entry.name, entry.shape))
                expected.append((secondMomentPrefix + entry.name, entry.shape))
            }
        }
        return expected
    }

    /// Loads parameters (and moments, when `optimizer` is given) from `checkpoint`.
    public static func restore(_ checkpoint: Checkpoint, model: MultimodalClassifier, optimizer: AdamW?,
                               optimizerStep: Int) throws {
        let expected = expectedTensors(model: model, withOptimizer: optimizer != nil)
        let onlyExpected = Checkpoint(
            manifest: checkpoint.manifest,
            tensors: checkpoint.tensors.filter { optimizer != nil || !$0.name.hasPrefix("optimizer.") },
            file: checkpoint.file)
        try CheckpointFile.checkCompatible(onlyExpected, expected: expected)

        var byName: [String: NamedTensor] = [:]
        for tensor in checkpoint.tensors { byName[tensor.name] = tensor }
        let parameters = model.parameterStore.entries.map { entry -> (name: String, shape: [Int], values: [Float]) in
            let tensor = byName[entry.name]!
            return (tensor.name, tensor.shape, tensor.values)
        }
        try model.loadParameters(parameters)

        guard let optimizer else { return }
        let store = model.parameterStore
        var first = [Float](repeating: 0, count: store.trainableCount)
        var second = [Float](repeating: 0, count: store.trainableCount)
        for entry in store.entries where entry.trainable {
            let m = byName[firstMomentPrefix + entry.name]!.values
            let v = byName[secondMomentPrefix + entry.name]!.values
            first.replaceSubrange(entry.offset..<(entry.offset + entry.count), with: m)
            second.replaceSubrange(entry.offset..<(entry.offset + entry.count), with: v)
        }
        try optimizer.restore(stepCount: optimizerStep, first: first, second: second)
    }
}
