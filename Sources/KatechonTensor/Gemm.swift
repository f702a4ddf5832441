import CBLAS

/// Single-precision matrix product through OpenBLAS, on row-major matrices:
///
///     C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n]
///
/// `op(X)` is X or its transpose, chosen by `transposeA` / `transposeB`, so transposed
/// operands are read in place without copies. `lda`, `ldb` and `ldc` are the row strides
/// of the matrices as stored (before any transpose), which lets callers address a
/// column slice of a wider matrix, such as one attention head inside a fused qkv output.
@inline(__always)
public func sgemm(
    transposeA: Bool, transposeB: Bool,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    if GemmCounter.isEnabled { GemmCounter.flops += 2 * Double(m) * Double(n) * Double(k) }
    uncountedSgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                   a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// `sgemm` without `GemmCounter`, for products issued from several threads at once;
/// the caller counts their operations on one thread.
@inline(__always)
func uncountedSgemm(
    transposeA: Bool, transposeB: Bool,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    cblas_sgemm(
        CblasRowMajor,
        transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb),
        beta, c, Int32(ldc))
}

/// Controls the number of threads OpenBLAS uses for each call in this process.
public enum BLASThreads {
    /// Sets the OpenBLAS thread count (at least 1).
    public static func set(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The OpenBLAS thread count in effect.
    public static var current: Int {
        Int(openblas_get_num_threads())
    }
}

/// Counts the floating-point operations of `sgemm` calls, for model FLOP utilisation.
///
/// Matrix products carry nearly all of a ViT's arithmetic, so their 2·m·n·k operations
/// are the model FLOPs that `katechon-dist bench` reports. Counting is off by default;
/// it is not synchronised, so enable it only while one thread issues products.
public enum GemmCounter {
    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public static var flops: Double = 0
}
