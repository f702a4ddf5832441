import Foundation
import KatechonTensor

/// Measures this process's sgemm throughput, the reference for model FLOP utilisation.
public enum SgemmPeak {
    /// GFLOP/s of square sgemm products of size `size` over about `seconds`, using the
    /// BLAS thread count currently set. Counts 2·n³ floating-point operations per product.
    public static func measure(size: Int = 1024, seconds: Double = 1.0) -> Double {
        let a = Tensor([size * size])
        let b = Tensor([size * size])
        let c = Tensor([size * size])
        var generator = RandomGenerator(seed: 1)
        for i in 0..<a.count {
            a[i] = generator.nextUniform() - 0.5
            b[i] = generator.nextUniform() - 0.5
        }
        func product() {
            sgemm(transposeA: false, transposeB: false, m: size, n: size, k: size,
                  a: a.pointer, lda: size, b: b.pointer, ldb: size, beta: 0, c: c.pointer, ldc: size)
        }

        product()
        var repetitions = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            product()
            repetitions += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds
        return 2 * pow(Double(size), 3) * Double(repetitions) / elapsed / 1e9
    }
}
