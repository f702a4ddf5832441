import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// One rank's failure must end the whole `mpirun` job with a non-zero status, never leave
/// the other ranks waiting in a collective.
final class JobFailureTests: XCTestCase {
    func testFatalOnOneRankEndsJob() throws {
        for (ranks, failing) in [(2, 1), (4, 2)] {
            let outcome = try MPIJob.run(ranks: ranks, ["fail-on-rank", "--rank", String(failing)])
            let context = "\(ranks) ranks, rank \(failing) fails: \(outcome.summary)"

            XCTAssertFalse(outcome.timedOut, context)
            XCTAssertNotEqual(outcome.status, 0, context)
            XCTAssertTrue(outcome.standardError.contains(
                "rank \(failing): injected failure on purpose"), context)
            XCTAssertFalse(outcome.standardOutput.contains("all-reduce completed"), context)
        }
    }

    func testMismatchedReducerEndsJob() throws {
        let outcome = try MPIJob.run(ranks: 2, ["mismatched-reducer"])

        XCTAssertFalse(outcome.timedOut, outcome.summary)
        XCTAssertNotEqual(outcome.status, 0, outcome.summary)
        XCTAssertTrue(outcome.standardError.contains(
            "GradientReducer configuration differs between ranks"), outcome.summary)
        XCTAssertFalse(outcome.standardOutput.contains("reducer created"), outcome.summary)
    }

    func testKilledRankEndsJob() throws {
        for (ranks, victim) in [(2, 1), (4, 3)] {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("katechon-pids-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }

            let job = try MPIJob.launch(ranks: ranks, probeArguments: [
                "sleep-in-allreduce", "--pid-dir", directory.path,
            ])
            guard let victimPID = waitForPIDs(in: directory, ranks: ranks, victim: victim) else {
                let outcome = job.wait(timeout: 0)
                XCTFail("\(ranks) ranks: the probe wrote no pid files within 30 s: "
                        + outcome.summary)
                continue
            }

            // Rank 0 sleeps outside MPI and the others wait in an all-reduce; SIGKILL gives
            // the victim no chance to report anything, so only mpirun can end the job.
            let killTime = Date()
            XCTAssertEqual(kill(victimPID, SIGKILL), 0, "kill -9 \(victimPID) failed")
            let outcome = job.wait()
            let secondsAfterKill = Date().timeIntervalSince(killTime)
            let context = "\(ranks) ranks, rank \(victim) (pid \(victimPID)) killed, job ended "
                + "\(String(format: "%.1f", secondsAfterKill)) s later: \(outcome.summary)"

            XCTAssertFalse(outcome.timedOut, context)
            XCTAssertNotEqual(outcome.status, 0, context)
            XCTAssertLessThan(secondsAfterKill, 30, context)
            XCTAssertFalse(outcome.standardOutput.contains("all-reduce completed"), context)
        }
    }

    /// Waits up to 30 s until every rank has written `rank-R.pid` and returns the victim's
    /// process id, or nil.
    private func waitForPIDs(in directory: URL, ranks: Int, victim: Int) -> pid_t? {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let files = (0..<ranks).map { directory.appendingPathComponent("rank-\($0).pid") }
            if files.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }),
               let text = try? String(contentsOf: files[victim], encoding: .utf8),
               let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return pid
            }
            usleep(20_000)
        }
        return nil
    }
}
