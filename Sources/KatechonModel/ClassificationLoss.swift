import Foundation
import KatechonTensor

/// The training loss on the logits, and the matching probabilities for prediction.
///
/// Binary (C = 1), BCE with logits z, label y ∈ {0, 1} and positive weight p:
///
///     ℓ = p·y·softplus(−z) + (1 − y)·softplus(z)          = −p·y·log σ(z) − (1 − y)·log(1 − σ(z))
///     dℓ/dz = p·y·(σ(z) − 1) + (1 − y)·σ(z)
///
/// Multiclass (C ≥ 2), softmax cross-entropy with label smoothing ε, as PyTorch's
/// `cross_entropy(label_smoothing=ε)`: the target is q = (1 − ε)·onehot(y) + ε/C, and
///
///     ℓ = −Σ_c q_c log softmax(z)_c,      dℓ/dz = softmax(z) − q
///
/// Both losses are averaged over the batch, so the returned gradient is dℓ/dz / B.
/// softplus(x) is computed as max(x, 0) + log1p(exp(−|x|)), in Double, which cannot
/// overflow because exp(−|x|) ≤ 1.
public struct ClassificationLoss: Sendable {
    public let classCount: Int
    /// p, the weight of positive samples in BCE (PyTorch's `pos_weight`); 1 when nil.
    public let positiveWeight: Float?
    /// ε, the label smoothing of the multiclass loss.
    public let labelSmoothing: Float

    public init(classCount: Int, positiveWeight: Float? = nil, labelSmoothing: Float = 0) {
        precondition(classCount >= 1, "class count \(classCount) must be at least 1")
        self.classCount = classCount
        self.positiveWeight = positiveWeight
        self.labelSmoothing = labelSmoothing
    }

    public var isBinary: Bool { classCount == 1 }

    /// Returns the batch-mean loss and dL/dlogits [B, C] for `logits` [B, C] and one
    /// label per sample (0 or 1 for a binary label, a class index otherwise).
    public func loss(logits: Tensor, labels: [Int32]) -> (loss: Float, gradient: Tensor) {
        let batch = logits.shape[0]
        precondition(logits.shape == [batch, classCount],
                     "logits have shape \(logits.shape), expected [B, \(classCount)]")
        precondition(labels.count == batch, "\(labels.count) labels for a batch of \(batch)")
        let gradient = Tensor(logits.shape)
        let inverseBatch = 1 / Double(batch)
        var total: Double = 0

        if isBinary {
            let p = Double(positiveWeight ?? 1)
            for b in 0..<batch {
                precondition(labels[b] == 0 || labels[b] == 1,
                             "binary label \(labels[b]) of sample \(b) is not 0 or 1")
                let z = Double(logits[b])
                let y = Double(labels[b])
                let sigmoid = Self.sigmoid(z)
                total += p * y * Self.softplus(-z) + (1 - y) * Self.softplus(z)
                gradient[b] = Float((p * y * (sigmoid - 1) + (1 - y) * sigmoid) * inverseBatch)
            }
            return (Float(total * inverseBatch), gradient)
        }

        let c = classCount
        let epsilon = Double(labelSmoothing)
        var probabilities = [Double](repeating: 0, count: c)
        for b in 0..<batch {
            let label = Int(labels[b])
            precondition(label >= 0 && label < c, "class label \(label) of sample \(b) is outside 0..<\(c)")
            let z = logits.pointer + b * c
            var maximum = -Double.infinity
            for j in 0..<c { maximum = max(maximum, Double(z[j])) }
            var sum: Double = 0
            for j in 0..<c {
                probabilities[j] = exp(Double(z[j]) - maximum)
                sum += probabilities[j]
            }
            let logSum = log(sum)
            for j in 0..<c {
                let target = (j == label ? 1 - epsilon : 0) + epsilon / Double(c)
                let logProbability = Double(z[j]) - maximum - logSum
                total -= target * logProbability
                gradient[b * c + j] = Float((probabilities[j] / sum - target) * inverseBatch)
            }
        }
        return (Float(total * inverseBatch), gradient)
    }

    /// Returns σ(z) per sample for a binary label ([B]), or softmax(z) per sample for a
    /// multiclass label ([B·C], row-major).
    public func probabilities(logits: Tensor) -> [Float] {
        if isBinary {
            return (0..<logits.count).map { Float(Self.sigmoid(Double(logits[$0]))) }
        }
        let result = Tensor(shape: logits.shape, values: logits.values)
        Attention.softmaxRows(result.pointer, rows: logits.shape[0], columns: classCount)
        return result.values
    }

    static func softplus(_ x: Double) -> Double {
        max(x, 0) + log1p(exp(-abs(x)))
    }

    static func sigmoid(_ x: Double) -> Double {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }
}
