import Foundation
import KatechonData
import KatechonDistributed
import KatechonMetrics
import KatechonModel

/// Scores a list of samples with the model, sharded over the ranks.
///
/// Rank r scores the contiguous shard r of `indices`, batch by batch, and rank 0 gathers
/// the shards in rank order, so the result is in the order of `indices` whatever the
/// number of ranks and the batch size. Every sample is scored alone in the sense that
/// matters: no layer mixes the samples of a batch.
public struct Evaluator {
    public let model: MultimodalClassifier
    public let dataset: LesionDataset
    public let communicator: Communicator
    public let batchSize: Int
    public let imageSize: Int
    public let seed: UInt64

    public init(model: MultimodalClassifier, dataset: LesionDataset, communicator: Communicator,
                batchSize: Int, imageSize: Int, seed: UInt64) {
        self.model = model
        self.dataset = dataset
        self.communicator = communicator
        self.batchSize = batchSize
        self.imageSize = imageSize
        self.seed = seed
    }

    /// Probabilities of `indices` (C per sample for multiclass, one otherwise), on rank 0;
    /// nil on the other ranks.
    public func probabilities(of indices: [Int]) throws -> [Float]? {
        let shard = EpochSampler.evaluationShard(count: indices.count, rank: communicator.rank,
                                                 size: communicator.size)
        let mine = Array(indices[shard])
        var local: [Float] = []
        local.reserveCapacity(mine.count * model.config.classCount)

        var start = 0
        while start < mine.count {
            let chunk = Array(mine[start..<min(start + batchSize, mine.count)])
            let batch = try dataset.batch(indices: chunk, imageSize: imageSize, augment: false, epoch: 0, seed: seed)
            let logits = batch.pixels.withUnsafeBufferPointer { pixels in
                batch.metadata.withUnsafeBufferPointer { metadata in
                    model.forward(pixels: pixels.baseAddress, metadata: metadata.baseAddress,
                                  batch: batch.count, training: false)
                }
            }
            local += model.probabilities(logits: logits)
            start += chunk.count
        }

        guard let gathered = communicator.gatherVariable(local, root: 0) else { return nil }
        return gathered.flatMap { $0 }
    }

    /// Returns every image that any rank replaced by a blank one because it could not be decoded
    /// (`--skip-bad-images`), as "isic_id: reason" sorted, on rank 0; nil elsewhere.
    public static func gatherSkippedImages(_ dataset: LesionDataset, communicator: Communicator) -> [String]? {
        let local = dataset.skippedImages.map { "\($0.isicID): \($0.reason)" }
        let bytes = Array(local.joined(separator: "\n").utf8)
        guard let gathered = communicator.gatherVariable(bytes: bytes, root: 0) else { return nil }
        let all = gathered.flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) }
        return Set(all).sorted()
    }

    /// Prints the skipped images of `dataset` from rank 0, if there are any.
    public static func reportSkippedImages(_ dataset: LesionDataset, communicator: Communicator, command: String) {
        guard let skipped = gatherSkippedImages(dataset, communicator: communicator), !skipped.isEmpty else { return }
        let shown = skipped.prefix(5).joined(separator: "; ") + (skipped.count > 5 ? "; ..." : "")
        FileHandle.standardError.write(Data("\(command): \(skipped.count) undecodable images were scored as blank ones (--skip-bad-images): \(shown)\n".utf8))
    }

    /// Returns the validation metrics of `indices` on rank 0 (nil elsewhere): binary AUC, ISIC 2024
    /// partial AUC and top-15 sensitivity, or multiclass balanced accuracy, recall and
    /// confusion matrix.
    public func metrics(of indices: [Int], patientIDs: [String]?) throws -> MetricsReport? {
        guard let probabilities = try probabilities(of: indices) else { return nil }
        let labels = indices.map { dataset.labels[$0] }
        return try Evaluator.report(labels: labels, probabilities: probabilities,
                                    classNames: dataset.labelSpec?.classes ?? [],
                                    classCount: model.config.classCount, patientIDs: patientIDs)
    }

    /// Builds the metrics report from labels and probabilities.
    public static func report(labels: [Int32], probabilities: [Float], classNames: [String],
                              classCount: Int, patientIDs: [String]?) throws -> MetricsReport {
        if classCount == 1 {
            let scores = probabilities.map(Double.init)
            return .binary(try MetricsReport.Binary(labels: labels, scores: scores, patientIDs: patientIDs))
        }
        var predictions: [Int32] = []
        predictions.reserveCapacity(labels.count)
        for sample in labels.indices {
            let row = probabilities[(sample * classCount)..<((sample + 1) * classCount)]
            predictions.append(Int32(row.indices.max { row[$0] < row[$1] }! - sample * classCount))
        }
        return .multiclass(try MetricsReport.Multiclass(labels: labels, predictions: predictions,
                                                        classNames: classNames))
    }
}
