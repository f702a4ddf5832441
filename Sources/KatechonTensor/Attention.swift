import Foundation

/// Multi-head scaled dot-product attention over the tokens of each sample separately.
///
///     S = (Q Kᵀ) / sqrt(d)        [Nq, Nk] per sample and head
///     P = softmax(S) over keys
///     O = P V                     [Nq, d]
///
/// Shapes, with B samples, H heads, head width d and D = H·d:
/// - `query` [B, Nq, ·] and `key`, `value` [B, Nk, ·]: head h of token t is the d floats
///   at column h·d of row t; rows are `queryStride`, `keyStride`, `valueStride` floats
///   apart, so the q, k and v column blocks of a fused qkv projection [B, N, 3D] are read
///   in place.
/// - `output` [B, Nq, D] with row stride `outputStride`.
/// - `probabilities` [B, H, Nq, Nk], kept from forward for backward.
///
/// Keys never come from another sample: each (sample, head) pair is its own pair of
/// small matrix products, so a prediction cannot depend on the rest of the batch.
public struct AttentionShape: Sendable {
    public var batch: Int
    public var heads: Int
    public var headDim: Int
    public var queryTokens: Int
    public var keyTokens: Int

    public init(batch: Int, heads: Int, headDim: Int, queryTokens: Int, keyTokens: Int) {
        self.batch = batch
        self.heads = heads
        self.headDim = headDim
        self.queryTokens = queryTokens
        self.keyTokens = keyTokens
    }

    /// Floats needed for the `probabilities` buffer.
    public var probabilityCount: Int { batch * heads * queryTokens * keyTokens }
}

/// A strided matrix operand: base pointer and row stride.
public struct StridedRows {
    public var pointer: UnsafeMutablePointer<Float>
    public var stride: Int

    public init(_ pointer: UnsafeMutablePointer<Float>, stride: Int) {
        self.pointer = pointer
        self.stride = stride
    }
}

public enum Attention {
    /// Computes `output` and `probabilities` from `query`, `key` and `value`.
    public static func forward(
        shape: AttentionShape,
        query: StridedRows, key: StridedRows, value: StridedRows,
        probabilities: UnsafeMutablePointer<Float>,
        output: StridedRows
    ) {
        let (nq, nk, d) = (shape.queryTokens, shape.keyTokens, shape.headDim)
        let scale = 1 / Float(d).squareRoot()
        countProducts(shape, perPair: 2)
        forEachSampleAndHead(shape, scratchCount: 0) { b, h, _ in
            let q = query.pointer + b * nq * query.stride + h * d
            let k = key.pointer + b * nk * key.stride + h * d
            let v = value.pointer + b * nk * value.stride + h * d
            let p = probabilities + (b * shape.heads + h) * nq * nk
            let o = output.pointer + b * nq * output.stride + h * d

            // S = scale · Q Kᵀ
            uncountedSgemm(transposeA: false, transposeB: true, m: nq, n: nk, k: d, alpha: scale,
                           a: q, lda: query.stride, b: k, ldb: key.stride, beta: 0, c: p, ldc: nk)

            // P = softmax(S) row by row
            softmaxRows(p, rows: nq, columns: nk)

            // O = P V
            uncountedSgemm(transposeA: false, transposeB: false, m: nq, n: d, k: nk,
                           a: p, lda: nk, b: v, ldb: value.stride, beta: 0, c: o, ldc: output.stride)
        }
    }

    /// Computes the gradients of query, key and value from the output gradient.
    ///
    /// The input gradients are overwritten, not accumulated; they may be column blocks
    /// of one fused buffer because the blocks never overlap.
    public static func backward(
        shape: AttentionShape,
        query: StridedRows, key: StridedRows, value: StridedRows,
        probabilities: UnsafeMutablePointer<Float>,
        outputGradient: StridedRows,
        queryGradient: StridedRows, keyGradient: StridedRows, valueGradient: StridedRows
    ) {
        let (nq, nk, d) = (shape.queryTokens, shape.keyTokens, shape.headDim)
        let scale = 1 / Float(d).squareRoot()
        let scratchCount = nq * nk
        countProducts(shape, perPair: 4)

        forEachSampleAndHead(shape, scratchCount: scratchCount) { b, h, scratch in
            let q = query.pointer + b * nq * query.stride + h * d
            let k = key.pointer + b * nk * key.stride + h * d
            let v = value.pointer + b * nk * value.stride + h * d
            let p = probabilities + (b * shape.heads + h) * nq * nk
            let dO = outputGradient.pointer + b * nq * outputGradient.stride + h * d
            let dQ = queryGradient.pointer + b * nq * queryGradient.stride + h * d
            let dK = keyGradient.pointer + b * nk * keyGradient.stride + h * d
            let dV = valueGradient.pointer + b * nk * valueGradient.stride + h * d
            let dP = scratch

            // from O = P V: dV = Pᵀ dO and dP = dO Vᵀ
            uncountedSgemm(transposeA: true, transposeB: false, m: nk, n: d, k: nq,
                           a: p, lda: nk, b: dO, ldb: outputGradient.stride,
                           beta: 0, c: dV, ldc: valueGradient.stride)
            uncountedSgemm(transposeA: false, transposeB: true, m: nq, n: nk, k: d,
                           a: dO, lda: outputGradient.stride, b: v, ldb: value.stride,
                           beta: 0, c: dP, ldc: nk)

            // from P = softmax(S): dS = P ⊙ (dP − rowsum(dP ⊙ P)), stored over dP
            for row in 0..<nq {
                let pRow = p + row * nk
                let gRow = dP + row * nk
                var dot: Float = 0
                for j in 0..<nk { dot += pRow[j] * gRow[j] }
                for j in 0..<nk { gRow[j] = pRow[j] * (gRow[j] - dot) }
            }

            // from S = scale · Q Kᵀ: dQ = scale · dS K and dK = scale · dSᵀ Q
            uncountedSgemm(transposeA: false, transposeB: false, m: nq, n: d, k: nk, alpha: scale,
                           a: dP, lda: nk, b: k, ldb: key.stride, beta: 0, c: dQ, ldc: queryGradient.stride)
            uncountedSgemm(transposeA: true, transposeB: false, m: nk, n: d, k: nq, alpha: scale,
                           a: dP, lda: nk, b: q, ldb: query.stride, beta: 0, c: dK, ldc: keyGradient.stride)
        }
    }

    /// Numerically stable softmax of each row of a [rows, columns] matrix, in place.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for row in 0..<rows {
            let r = x + row * columns
            var maximum = -Float.infinity
            for j in 0..<columns { maximum = max(maximum, r[j]) }
            var sum: Float = 0
            for j in 0..<columns {
                let e = expf(r[j] - maximum)
                r[j] = e
                sum += e
            }
            let inverse = 1 / sum
            for j in 0..<columns { r[j] *= inverse }
        }
    }

    /// Adds the operations of `perPair` products of 2·Nq·Nk·d each per (sample, head)
    /// pair to `GemmCounter`, on the calling thread, because the pairs' own products may
    /// run on several threads.
    private static func countProducts(_ shape: AttentionShape, perPair: Int) {
        guard GemmCounter.isEnabled else { return }
        let pairs = Double(shape.batch * shape.heads)
        let perProduct = 2 * Double(shape.queryTokens) * Double(shape.keyTokens) * Double(shape.headDim)
        GemmCounter.flops += pairs * Double(perPair) * perProduct
    }

    /// Runs `body(b, h, scratch)` for every (sample, head) pair, where `scratch` is
    /// `scratchCount` floats private to the calling thread.
    ///
    /// Pairs are independent and each writes only its own output rows and columns. With
    /// several OpenBLAS threads the pairs are split into contiguous ranges, one per
    /// thread, and OpenBLAS is set to one thread meanwhile, so every small product runs
    /// on the thread that issued it. A product computes the same values on one thread
    /// as on several, so the split does not change the result.
    private static func forEachSampleAndHead(
        _ shape: AttentionShape, scratchCount: Int, _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        let pairs = shape.batch * shape.heads
        let threads = BLASThreads.current
        let split = threads > 1 && pairs > 1
        if split { BLASThreads.set(1) }
        defer { if split { BLASThreads.set(threads) } }

        ParallelFor.ranges(pairs, threads: split ? threads : 1, minimumPerThread: 1) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchCount, 1))
            defer { scratch.deallocate() }
            for pair in range {
                body(pair / shape.heads, pair % shape.heads, scratch)
            }
        }
    }
}
