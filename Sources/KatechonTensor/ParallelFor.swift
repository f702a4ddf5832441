import Foundation

/// Splits independent elementwise or row-wise work over the threads that this process
/// gives to OpenBLAS, in a fixed way.
///
/// `0 ..< count` is cut into at most `BLASThreads.current` (or `threads`) contiguous
/// ranges, and `body` runs once per range, concurrently. Each output element must be
/// written only by the body call that owns its index, and no value may be summed
/// across ranges. Then the result is the same bit for bit whatever the thread count.
///
/// Work below `minimumPerThread` items per thread runs on the calling thread, because
/// waking a second thread costs several microseconds. Between BLAS calls the OpenBLAS
/// worker threads spin-wait, so the other cores are otherwise unused during this work.
public enum ParallelFor {
    /// Runs `body(range)` over contiguous ranges that cover `0 ..< count` exactly once,
    /// on at most `threads` threads (by default the OpenBLAS thread count).
    @inlinable
    public static func ranges(_ count: Int, threads: Int? = nil, minimumPerThread: Int = 16_384,
                              _ body: (Range<Int>) -> Void) {
        let threads = min(threads ?? BLASThreads.current, count / max(minimumPerThread, 1))
        if threads <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: threads) { part in
                let lower = count * part / threads
                let upper = count * (part + 1) / threads
                body(lower..<upper)
            }
        }
    }
}
