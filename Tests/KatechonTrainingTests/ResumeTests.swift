import Foundation
import KatechonCheckpoint
import XCTest

/// Checkpoints as users rely on them: exact resume, resume on another world size,
/// rejection of damaged or foreign files, preemption, and a crash during a write.
final class ResumeTests: XCTestCase {
    /// Returns the arguments of the shared short run, with warmup and undersampling so
    /// that resume covers both.
    func trainArguments(out: URL, batch: Int, steps: Int, extra: [String] = []) throws -> [String] {
        try Harness.trainArguments(out: out, batch: batch, steps: steps,
                                   extra: ["--warmup-steps", "2", "--neg-per-pos", "3"] + extra)
    }

    /// A straight 2-rank run of 8 steps with checkpoints every 4 steps, made once.
    static var straightRun: URL?
    func straight() throws -> URL {
        if let run = Self.straightRun { return run }
        let out = try Harness.temporaryFolder("straight")
        let outcome = try Harness.run(trainArguments(out: out, batch: 4, steps: 8, extra: ["--checkpoint-every", "4"]),
                                      ranks: 2, timeout: 300)
        XCTAssertEqual(outcome.status, 0, outcome.summary)
        Self.straightRun = out
        return out
    }

    func checkpoint(_ run: URL, step: Int) -> URL {
        run.appendingPathComponent("checkpoints").appendingPathComponent(CheckpointDirectory.fileName(step: step))
    }

    func testResumeIsBitwiseExact() throws {
        let straight = try straight()
        let resumed = try Harness.temporaryFolder("resumed")
        let outcome = try Harness.run(
            trainArguments(out: resumed, batch: 4, steps: 8,
                           extra: ["--checkpoint-every", "4", "--resume", checkpoint(straight, step: 4).path]),
            ranks: 2, timeout: 300)
        XCTAssertEqual(outcome.status, 0, outcome.summary)

        let expected = try TensorComparison.latestTensors(runDirectory: straight)
        let actual = try TensorComparison.latestTensors(runDirectory: resumed)
        XCTAssertEqual(Set(expected.keys), Set(actual.keys))
        XCTAssertTrue(expected.keys.contains { $0.hasPrefix("optimizer.exp_avg_sq.") }, "no optimizer state saved")
        let differing = TensorComparison.bitwiseDifferences(expected, actual)
        XCTAssertTrue(differing.isEmpty, "tensors differ after resume: \(differing.prefix(5)) (\(differing.count) in all)")
    }

    func testResumeOnOneRankAfterTwo() throws {
        let straight = try straight()
        let resumed = try Harness.temporaryFolder("one-rank")
        // Same global batch: 1 rank x 8 continues 2 ranks x 4.
        let outcome = try Harness.run(
            trainArguments(out: resumed, batch: 8, steps: 8, extra: ["--resume", checkpoint(straight, step: 4).path]),
            ranks: 1, timeout: 300)
        XCTAssertEqual(outcome.status, 0, outcome.summary)

        let deviation = TensorComparison.maxDeviation(
            try TensorComparison.latestTensors(runDirectory: straight),
            try TensorComparison.latestTensors(runDirectory: resumed))
        let tolerance: Float = 2e-5
        XCTAssertLessThanOrEqual(deviation.value, tolerance,
                                 "largest deviation \(deviation.value) in \(deviation.name), tolerance \(tolerance)")
    }

    func testChangedGlobalBatchContinuesInEpoch() throws {
        let straight = try straight()
        let out = try Harness.temporaryFolder("batch")
        // The checkpoint at step 4 has seen 4 x 8 = 32 samples of epoch 0; with a global
        // batch of 2 x 2 = 4 the run continues at step 8 of the same epoch.
        let outcome = try Harness.run(
            trainArguments(out: out, batch: 2, steps: 10, extra: ["--resume", checkpoint(straight, step: 4).path]),
            ranks: 2, timeout: 120)
        XCTAssertEqual(outcome.status, 0, outcome.summary)
        XCTAssertTrue(outcome.stderr.contains("global batch changed from 8 to 4"), outcome.summary)
        XCTAssertTrue(outcome.stderr.contains("after sample 32 of its order, at step 8"), outcome.summary)
        XCTAssertTrue(outcome.stderr.contains("steps: 8 -> 10"), outcome.summary)

        let manifest = try JSONSerialization.jsonObject(
            with: CheckpointFile.readManifest(checkpoint(out, step: 10))) as! [String: Any]
        XCTAssertEqual((manifest["samplesSeen"] as? NSNumber)?.intValue, 32 + 2 * 4, "samples seen after 2 more steps of 4")

        // Back to a global batch of 8 in the same folder would renumber the steps over
        // the existing checkpoints' names.
        let before = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path)
        let renumbered = try Harness.run(trainArguments(out: out, batch: 4, steps: 12, extra: ["--resume", "auto"]),
                                         ranks: 2, timeout: 120)
        XCTAssertNotEqual(renumbered.status, 0, renumbered.summary)
        XCTAssertTrue(renumbered.stderr.contains("renumbers the steps"), renumbered.summary)
        let after = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path)
        XCTAssertEqual(Set(after), Set(before), "the rejected resume changed the checkpoints")
    }

    func testDamagedAndForeignCheckpointsAreRejected() throws {
        let straight = try straight()
        let source = checkpoint(straight, step: 4)
        let bytes = try Data(contentsOf: source)

        // A run directory with a good checkpoint that must stay untouched.
        let run = try Harness.temporaryFolder("reject")
        let keep = run.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: keep, withIntermediateDirectories: true)
        try bytes.write(to: keep.appendingPathComponent(CheckpointDirectory.fileName(step: 4)))
        try Data("step-00000004.kcpt\n".utf8).write(to: keep.appendingPathComponent("latest"))
        let before = try snapshot(keep)

        // Another model shape: the same data with a wider decoder.
        let foreignRun = try Harness.temporaryFolder("foreign")
        var foreignArguments = try trainArguments(out: foreignRun, batch: 4, steps: 1)
        foreignArguments[foreignArguments.firstIndex(of: "--fusion-width")! + 1] = "64"
        let trained = try Harness.run(foreignArguments,
                                      ranks: 1, timeout: 120)
        XCTAssertEqual(trained.status, 0, trained.summary)
        let foreign = checkpoint(foreignRun, step: 1)

        let damaged = try Harness.temporaryFolder("damaged")
        let truncated = damaged.appendingPathComponent("truncated.kcpt")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        let flipped = damaged.appendingPathComponent("flipped.kcpt")
        var flippedBytes = bytes
        flippedBytes[bytes.count / 3] ^= 0x10
        try flippedBytes.write(to: flipped)
        let text = damaged.appendingPathComponent("notes.kcpt")
        try Data("not a checkpoint\n".utf8).write(to: text)

        let cases: [(URL, String)] = [
            (truncated, "truncated"), (flipped, "corrupted"), (text, "not a Katechon checkpoint"),
            (foreign, "another shape"),
        ]
        for (file, reason) in cases {
            let outcome = try Harness.run(trainArguments(out: run, batch: 4, steps: 8, extra: ["--resume", file.path]),
                                          ranks: 2, timeout: 120)
            XCTAssertNotEqual(outcome.status, 0, "\(file.lastPathComponent) was accepted: \(outcome.summary)")
            XCTAssertTrue(outcome.stderr.contains(file.path), "message does not name \(file.path): \(outcome.summary)")
            XCTAssertTrue(outcome.stderr.contains(reason), "message does not say '\(reason)': \(outcome.summary)")
            XCTAssertEqual(try snapshot(keep), before, "\(file.lastPathComponent) changed the run's checkpoints")
        }
    }

    func testPreemptionSignalStopsAndResumesExactly() throws {
        let steps = 24
        let straightRun = try Harness.temporaryFolder("uninterrupted")
        let reference = try Harness.run(trainArguments(out: straightRun, batch: 4, steps: steps), ranks: 2, timeout: 300)
        XCTAssertEqual(reference.status, 0, reference.summary)

        // SIGUSR1 to mpirun, which forwards it to every rank, once a few steps are done.
        let run = try Harness.temporaryFolder("preempted")
        let running = try Harness.start(trainArguments(out: run, batch: 4, steps: steps), ranks: 2)
        let metrics = run.appendingPathComponent("metrics.jsonl")
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline && running.process.isRunning {
            let text = (try? String(contentsOf: metrics, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "\"train\"").count > 3 { break }
            usleep(20_000)
        }
        kill(running.process.processIdentifier, SIGUSR1)
        let stopped = running.wait(timeout: 120)
        XCTAssertEqual(stopped.status, 0, stopped.summary)
        guard stopped.stderr.contains("stopped by SIGUSR1") else {
            // The run may finish before the signal lands on a fast machine.
            XCTAssertTrue(stopped.stderr.contains("done"), stopped.summary)
            return
        }
        XCTAssertTrue(stopped.stderr.contains("--resume auto"), stopped.summary)

        let resumed = try Harness.run(trainArguments(out: run, batch: 4, steps: steps, extra: ["--resume", "auto"]),
                                      ranks: 2, timeout: 300)
        XCTAssertEqual(resumed.status, 0, resumed.summary)
        let differing = TensorComparison.bitwiseDifferences(
            try TensorComparison.latestTensors(runDirectory: straightRun),
            try TensorComparison.latestTensors(runDirectory: run))
        XCTAssertTrue(differing.isEmpty, "preempted and resumed run differs: \(differing.prefix(5))")
    }

    func testKillDuringCheckpointWriteKeepsPrevious() throws {
        // A small-backbone model whose checkpoints take long enough to write that the
        // temporary file can be seen; rank 0 is killed while it exists.
        let run = try Harness.temporaryFolder("crash")
        var arguments = try trainArguments(out: run, batch: 2, steps: 50, extra: ["--checkpoint-every", "1", "--keep", "2"])
        arguments[arguments.firstIndex(of: "--backbone")! + 1] = "small"
        arguments[arguments.firstIndex(of: "--trainable-blocks")! + 1] = "12"
        let running = try Harness.start(arguments, ranks: 1)
        defer { if running.process.isRunning { kill(running.process.processIdentifier, SIGKILL) } }

        let folder = run.appendingPathComponent("checkpoints")
        let deadline = Date().addingTimeInterval(240)
        var killed = false
        while Date() < deadline && running.process.isRunning {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            // Kill only while a checkpoint file (not `latest`) is being written after an
            // earlier one is complete and named by `latest`.
            let complete = names.filter { $0.hasSuffix(".kcpt") && !$0.hasPrefix(".") }
            let writingCheckpoint = names.contains { $0.hasPrefix(".tmp-step-") }
            if !complete.isEmpty && names.contains("latest") && writingCheckpoint {
                kill(running.process.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(2_000)
        }
        _ = running.wait(timeout: 30)
        XCTAssertTrue(killed, "never saw a checkpoint being written next to a finished one")
        guard killed else { return }

        let latest = try String(contentsOf: folder.appendingPathComponent("latest"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let checkpoint = try CheckpointFile.read(folder.appendingPathComponent(latest))
        XCTAssertFalse(checkpoint.tensors.isEmpty, "latest names \(latest), which does not read back")
        let complete = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasPrefix("step-") && $0.hasSuffix(".kcpt") }
        for name in complete {
            XCTAssertNoThrow(try CheckpointFile.read(folder.appendingPathComponent(name)), "\(name) is damaged")
        }
        XCTAssertEqual(complete.max(), latest, "latest does not name the newest complete checkpoint")
    }

    /// File names and bytes of a folder.
    func snapshot(_ folder: URL) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            result[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        return result
    }
}
