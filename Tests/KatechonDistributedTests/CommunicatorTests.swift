import XCTest

/// Communicator collectives under real `mpirun`, through `katechon-mpi-probe`, which checks
/// every received value against the value it computes itself and aborts on a mismatch.
final class CommunicatorTests: XCTestCase {
    func testSingletonWithoutMpirunAsRoot() throws {
        // No mpirun and none of the OMPI_ALLOW_RUN_AS_ROOT variables: Open MPI's singleton
        // start must work for root by itself.
        let outcome = try MPIJob.run(
            ranks: nil, ["info"],
            removingEnvironment: ["OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"])

        XCTAssertEqual(outcome.status, 0, outcome.summary)
        XCTAssertTrue(outcome.standardOutput.contains("rank 0 size 1 localRank 0 localSize 1"),
                      outcome.summary)
    }

    func testRanksAndLocalRanksUnderMpirun() throws {
        let outcome = try MPIJob.run(ranks: 2, ["info"])

        XCTAssertEqual(outcome.status, 0, outcome.summary)
        for rank in 0..<2 {
            XCTAssertTrue(outcome.standardOutput.contains(
                "rank \(rank) size 2 localRank \(rank) localSize 2"), outcome.summary)
        }
    }

    func testBroadcastFromLastRank() throws {
        for ranks in [2, 4] {
            let outcome = try MPIJob.run(ranks: ranks, ["broadcast"])

            XCTAssertEqual(outcome.status, 0, "\(ranks) ranks: \(outcome.summary)")
            let okLines = outcome.standardOutput.components(separatedBy: "broadcast ok").count - 1
            XCTAssertEqual(okLines, ranks, "\(ranks) ranks: \(outcome.summary)")
        }
    }

    func testGatherVariableLengths() throws {
        let outcome = try MPIJob.run(ranks: 4, ["gather"])

        // Rank r sends 3r + 1 floats and r bytes, so rank 0 sends no bytes at all.
        XCTAssertEqual(outcome.status, 0, outcome.summary)
        XCTAssertTrue(outcome.standardOutput.contains(
            "rank 0: gather ok lengths [1, 4, 7, 10] [0, 1, 2, 3]"), outcome.summary)
    }

    func testSumsAndMaximumOnThreeRanks() throws {
        let outcome = try MPIJob.run(ranks: 3, ["reduce-scalars"])

        XCTAssertEqual(outcome.status, 0, outcome.summary)
        let okLines = outcome.standardOutput.components(separatedBy: "reduce-scalars ok").count - 1
        XCTAssertEqual(okLines, 3, outcome.summary)
    }
}
