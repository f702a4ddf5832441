import XCTest

/// GradientReducer under real `mpirun`. Each rank of the probe fills the gradient buffer
/// with values that depend on rank, index and step, marks them ready slice by slice, and
/// compares the averaged buffer with the exact average computed locally from every rank's
/// values. Values are multiples of 2^-16 whose sums are exact in float, so without
/// compression the result must match bitwise.
final class GradientReducerTests: XCTestCase {
    /// `COUNT:BUCKET_BYTES` cases: an empty buffer, one-float and 16-float buckets, buckets
    /// of 100,000 floats that do not divide the buffer, and one bucket larger than the
    /// buffer.
    private let cases = "0:64,1:64,1000:4,1000:64,300007:400000,300007:100000000"
    private let caseCount = 6

    /// Runs the probe's all-reduce check and asserts that every rank passed every case.
    private func assertAllReduce(ranks: Int?, compression: String, tolerance: Double,
                                 threadLevel: String = "multiple",
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let outcome = try MPIJob.run(ranks: ranks, [
            "allreduce", "--cases", cases, "--compression", compression, "--steps", "2",
            "--tolerance", String(tolerance), "--absolute-tolerance", tolerance == 0 ? "0" : "1e-6",
            "--thread-level", threadLevel,
        ])
        let context = "\(ranks ?? 1) ranks, \(compression), tolerance \(tolerance) relative to "
            + "the mean |gradient|, thread level \(threadLevel): \(outcome.summary)"

        XCTAssertEqual(outcome.status, 0, context, file: file, line: line)
        let okLines = outcome.standardOutput.components(separatedBy: "allreduce ok").count - 1
        XCTAssertEqual(okLines, (ranks ?? 1) * caseCount, context, file: file, line: line)

        // The fallback paths are exercised only if MPI provided the level requested.
        let provided = "threadLevel MPI_THREAD_\(threadLevel.uppercased())"
        let providedLines = outcome.standardOutput.components(separatedBy: provided).count - 1
        XCTAssertEqual(providedLines, okLines, context, file: file, line: line)
    }

    func testExactAverageOnTwoRanks() throws {
        try assertAllReduce(ranks: 2, compression: "none", tolerance: 0)
    }

    func testExactAverageOnThreeRanks() throws {
        // Three ranks: the division by the world size rounds, identically in the probe.
        try assertAllReduce(ranks: 3, compression: "none", tolerance: 0)
    }

    func testExactAverageOnFourRanks() throws {
        try assertAllReduce(ranks: 4, compression: "none", tolerance: 0)
    }

    // Tolerances are relative to the mean over ranks of |gradient| at each element:
    // N ranks × 2^-11 for binary16 and N × 2^-8 for bfloat16, rounded up.

    func testFP16AverageOnTwoRanks() throws {
        try assertAllReduce(ranks: 2, compression: "fp16", tolerance: 1e-3)
    }

    func testFP16AverageOnFourRanks() throws {
        try assertAllReduce(ranks: 4, compression: "fp16", tolerance: 2e-3)
    }

    func testBF16AverageOnTwoRanks() throws {
        try assertAllReduce(ranks: 2, compression: "bf16", tolerance: 8e-3)
    }

    func testBF16AverageOnFourRanks() throws {
        try assertAllReduce(ranks: 4, compression: "bf16", tolerance: 1.6e-2)
    }

    func testExactAverageWithSerializedThreads() throws {
        // Communication thread behind the process-wide call lock.
        try assertAllReduce(ranks: 2, compression: "none", tolerance: 0, threadLevel: "serialized")
    }

    func testBF16AverageWithFunneledThreads() throws {
        // No communication thread: buckets are reduced inside markReady.
        try assertAllReduce(ranks: 2, compression: "bf16", tolerance: 8e-3, threadLevel: "funneled")
    }

    func testSingletonLeavesGradientsUnchanged() throws {
        try assertAllReduce(ranks: nil, compression: "fp16", tolerance: 0)
    }
}
