import Foundation
import XCTest
@testable import KatechonCheckpoint

final class CheckpointWriterTests: XCTestCase {
    private var folder: TemporaryFolder!
    private var runDirectory: URL { folder.url.appendingPathComponent("run") }
    private var checkpoints: URL { runDirectory.appendingPathComponent("checkpoints") }
    private var latest: URL { checkpoints.appendingPathComponent("latest") }

    override func setUpWithError() throws {
        folder = try TemporaryFolder()
    }

    override func tearDown() {
        folder.remove()
    }

    private func save(_ writer: CheckpointWriter, step: Int, metric: ValidationMetric? = nil) throws {
        let checkpoint = makeCheckpoint(seed: UInt64(step), step: step)
        try writer.save(step: step, manifest: checkpoint.manifest, tensors: checkpoint.tensors, metric: metric)
    }

    private func folderContents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).sorted()
    }

    private func latestContents() throws -> String {
        try String(contentsOf: latest, encoding: .utf8)
    }

    func testSaveWritesStepFileAndLatest() throws {
        let writer = try CheckpointWriter(runDirectory: runDirectory)
        let checkpoint = makeCheckpoint(seed: 5)

        let saved = try writer.save(step: 1234, manifest: checkpoint.manifest, tensors: checkpoint.tensors)

        XCTAssertEqual(saved.file.lastPathComponent, "step-00001234.kcpt")
        XCTAssertEqual(try latestContents(), "step-00001234.kcpt\n")
        XCTAssertEqual(try folderContents(), ["history.json", "latest", "step-00001234.kcpt"])
        let read = try CheckpointFile.read(saved.file)
        XCTAssertEqual(read.manifest, checkpoint.manifest)
        assertBitwiseEqual(read.tensors, checkpoint.tensors)
        XCTAssertEqual(try CheckpointDirectory.resolveResume(runDirectory: runDirectory, argument: "auto"),
                       saved.file)
    }

    func testFileNamesParseBack() {
        XCTAssertEqual(CheckpointDirectory.fileName(step: 0), "step-00000000.kcpt")
        XCTAssertEqual(CheckpointDirectory.fileName(step: 123_456_789), "step-123456789.kcpt")
        XCTAssertEqual(CheckpointDirectory.step(fromFileName: "step-00000042.kcpt"), 42)
        XCTAssertEqual(CheckpointDirectory.step(fromFileName: "step-123456789.kcpt"), 123_456_789)
        XCTAssertNil(CheckpointDirectory.step(fromFileName: "step-42.kcpt"))
        XCTAssertNil(CheckpointDirectory.step(fromFileName: ".tmp-step-00000042.kcpt-1-ab"))
        XCTAssertNil(CheckpointDirectory.step(fromFileName: "step-0000004x.kcpt"))
    }

    func testCrashDuringWriteKeepsPreviousCheckpoint() throws {
        let writer = try CheckpointWriter(runDirectory: runDirectory)
        try save(writer, step: 100)
        let previous = checkpoints.appendingPathComponent("step-00000100.kcpt")
        let previousBytes = try bytes(of: previous)
        let latestBytes = try bytes(of: latest)

        writer.crashAfterFileBytes = 5_000
        XCTAssertThrowsError(try save(writer, step: 200)) { error in
            XCTAssertTrue(error is SimulatedCrash, "expected the simulated crash, got \(error)")
        }

        // What a killed process leaves: the old files and one partial temporary file.
        XCTAssertEqual(try bytes(of: previous), previousBytes)
        XCTAssertEqual(try bytes(of: latest), latestBytes)
        let leftovers = try folderContents().filter { $0.hasPrefix(".tmp-") }
        XCTAssertEqual(leftovers.count, 1, "temporary files: \(leftovers)")
        XCTAssertEqual(try bytes(of: checkpoints.appendingPathComponent(leftovers[0])).count, 5_000)
        XCTAssertEqual(try CheckpointDirectory(runDirectory: runDirectory).checkpointFiles().map(\.step), [100])
        XCTAssertEqual(try CheckpointDirectory.resolveResume(runDirectory: runDirectory, argument: "auto"),
                       previous)

        // The restarted run deletes the temporary file and continues.
        let restarted = try CheckpointWriter(runDirectory: runDirectory)
        XCTAssertEqual(try folderContents(), ["history.json", "latest", "step-00000100.kcpt"])
        try save(restarted, step: 200)
        XCTAssertEqual(try latestContents(), "step-00000200.kcpt\n")
        XCTAssertEqual(try bytes(of: previous), previousBytes)
    }

    func testPartialCopyFromKilledProcessIsIgnored() throws {
        let writer = try CheckpointWriter(runDirectory: runDirectory)
        try save(writer, step: 100)
        let previous = checkpoints.appendingPathComponent("step-00000100.kcpt")
        let previousBytes = try bytes(of: previous)
        let latestBytes = try bytes(of: latest)

        // Another process writes the first bytes of a checkpoint under a temporary name,
        // as a write of step 200 killed midway would leave it.
        let stray = checkpoints.appendingPathComponent(".tmp-step-00000200.kcpt-99999-deadbeef")
        let head = Process()
        head.executableURL = URL(fileURLWithPath: "/bin/sh")
        head.arguments = ["-c", "head -c 3000 \"$0\" > \"$1\"", previous.path, stray.path]
        try head.run()
        head.waitUntilExit()
        XCTAssertEqual(head.terminationStatus, 0)
        XCTAssertEqual(try bytes(of: stray).count, 3_000)

        XCTAssertEqual(try CheckpointDirectory(runDirectory: runDirectory).checkpointFiles().map(\.step), [100])
        XCTAssertEqual(try CheckpointDirectory.resolveResume(runDirectory: runDirectory, argument: "auto"),
                       previous)
        assertReadRejects(stray, mentioning: ["is truncated"], "partial temporary file")

        _ = try CheckpointWriter(runDirectory: runDirectory)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stray.path), "the stale temporary file remains")
        XCTAssertEqual(try bytes(of: previous), previousBytes)
        XCTAssertEqual(try bytes(of: latest), latestBytes)
    }

    func testRetentionKeepsNewestAndBest() throws {
        let writer = try CheckpointWriter(runDirectory: runDirectory, keep: 2)
        let aucs = [0.5, 0.9, 0.6, 0.7, 0.65, 0.8]

        for (index, auc) in aucs.enumerated() {
            try save(writer, step: index + 1, metric: ValidationMetric(name: "auc", value: auc, higherIsBetter: true))
        }

        XCTAssertEqual(try folderContents(), ["history.json", "latest", "step-00000002.kcpt",
                                              "step-00000005.kcpt", "step-00000006.kcpt"])
        XCTAssertEqual(try latestContents(), "step-00000006.kcpt\n")
        let history = try CheckpointRetention(directory: writer.directory).loadHistory()
        XCTAssertEqual(history.map(\.step), [2, 5, 6])
        XCTAssertEqual(history.map { $0.metric?.value }, [0.9, 0.65, 0.8])
    }

    func testRetentionWithLowerIsBetter() throws {
        let writer = try CheckpointWriter(runDirectory: runDirectory, keep: 1)
        let losses = [0.7, 0.3, 0.5, .nan, 0.4]

        for (index, loss) in losses.enumerated() {
            try save(writer, step: 10 * (index + 1),
                     metric: ValidationMetric(name: "val_loss", value: loss, higherIsBetter: false))
        }

        XCTAssertEqual(try folderContents(), ["history.json", "latest", "step-00000020.kcpt",
                                              "step-00000050.kcpt"])
    }

    func testRetentionWithoutMetricKeepsNewest() throws {
        let writer = try CheckpointWriter(runDirectory: runDirectory, keep: 2)

        for step in [3, 1, 2] {
            try save(writer, step: step)
        }

        // Step 1 was saved after step 3 but is older by step; the newest save is kept
        // because `latest` names it.
        XCTAssertEqual(try folderContents(), ["history.json", "latest", "step-00000002.kcpt",
                                              "step-00000003.kcpt"])
        try save(writer, step: 1)
        XCTAssertEqual(try folderContents(), ["history.json", "latest", "step-00000001.kcpt",
                                              "step-00000002.kcpt", "step-00000003.kcpt"])
        XCTAssertEqual(try latestContents(), "step-00000001.kcpt\n")
    }

    func testUnreadableHistoryDeletesNothing() throws {
        let writer = try CheckpointWriter(runDirectory: runDirectory, keep: 1)
        try save(writer, step: 1, metric: ValidationMetric(name: "auc", value: 0.9, higherIsBetter: true))
        try save(writer, step: 2, metric: ValidationMetric(name: "auc", value: 0.5, higherIsBetter: true))
        try Data("{ not json".utf8).write(to: checkpoints.appendingPathComponent("history.json"))

        let checkpoint = makeCheckpoint(seed: 3)
        let saved = try writer.save(step: 3, manifest: checkpoint.manifest, tensors: checkpoint.tensors,
                                    metric: ValidationMetric(name: "auc", value: 0.6, higherIsBetter: true))

        XCTAssertEqual(saved.removed, [])
        XCTAssertTrue(saved.warning?.contains("history.json is unreadable") == true, "\(saved.warning ?? "no warning")")
        XCTAssertEqual(try folderContents(), ["history.json", "latest", "step-00000001.kcpt",
                                              "step-00000002.kcpt", "step-00000003.kcpt"])
        XCTAssertEqual(try CheckpointRetention(directory: writer.directory).loadHistory().map(\.step), [1, 2, 3])
    }

    func testKeepZeroIsRejected() {
        XCTAssertThrowsError(try CheckpointWriter(runDirectory: runDirectory, keep: 0)) { error in
            XCTAssertTrue("\(error)".contains("--keep 0 is invalid"), "\(error)")
        }
    }

    func testResumeResolution() throws {
        let directory = CheckpointDirectory(runDirectory: runDirectory)
        XCTAssertNil(try CheckpointDirectory.resolveResume(runDirectory: runDirectory, argument: "auto"))

        let writer = try CheckpointWriter(runDirectory: runDirectory)
        try save(writer, step: 7)
        let file = directory.url(step: 7)
        XCTAssertEqual(try CheckpointDirectory.resolveResume(runDirectory: runDirectory, argument: file.path), file)

        let missing = folder.url.appendingPathComponent("elsewhere.kcpt")
        XCTAssertThrowsError(try CheckpointDirectory.resolveResume(runDirectory: runDirectory,
                                                                   argument: missing.path)) { error in
            XCTAssertTrue("\(error)".contains("\(missing.path) not found"), "\(error)")
        }

        try Data("step-00000009.kcpt\n".utf8).write(to: latest)
        XCTAssertThrowsError(try CheckpointDirectory.resolveResume(runDirectory: runDirectory,
                                                                   argument: "auto")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(latest.path), message)
            XCTAssertTrue(message.contains(checkpoints.appendingPathComponent("step-00000009.kcpt").path), message)
        }

        try Data("../../etc/passwd\n".utf8).write(to: latest)
        XCTAssertThrowsError(try CheckpointDirectory.resolveResume(runDirectory: runDirectory,
                                                                   argument: "auto")) { error in
            XCTAssertTrue("\(error)".contains("is not a checkpoint file name"), "\(error)")
        }

        // Without `latest`, the newest complete checkpoint file is used.
        try FileManager.default.removeItem(at: latest)
        XCTAssertEqual(try CheckpointDirectory.resolveResume(runDirectory: runDirectory, argument: "auto"), file)
    }

    func testAsyncWriterSavesInBackground() throws {
        let asyncWriter = AsyncCheckpointWriter(writer: try CheckpointWriter(runDirectory: runDirectory))
        let first = makeCheckpoint(seed: 11)
        let second = makeCheckpoint(seed: 12)

        try asyncWriter.save(step: 1, manifest: first.manifest, tensors: first.tensors)
        try asyncWriter.save(step: 2, manifest: second.manifest, tensors: second.tensors)
        try asyncWriter.waitUntilIdle()

        XCTAssertEqual(asyncWriter.lastCompletedSave?.step, 2)
        assertBitwiseEqual(try CheckpointFile.read(checkpoints.appendingPathComponent("step-00000001.kcpt")).tensors,
                           first.tensors)
        assertBitwiseEqual(try CheckpointFile.read(checkpoints.appendingPathComponent("step-00000002.kcpt")).tensors,
                           second.tensors)
        XCTAssertEqual(try latestContents(), "step-00000002.kcpt\n")
    }

    func testAsyncWriterSurfacesErrorOnce() throws {
        let asyncWriter = AsyncCheckpointWriter(writer: try CheckpointWriter(runDirectory: runDirectory))
        let checkpoint = makeCheckpoint(seed: 13)

        // Replace the checkpoints folder by a regular file, so every write fails even as root.
        try FileManager.default.removeItem(at: checkpoints)
        try Data("not a folder".utf8).write(to: checkpoints)

        try asyncWriter.save(step: 1, manifest: checkpoint.manifest, tensors: checkpoint.tensors)
        XCTAssertThrowsError(try asyncWriter.save(step: 2, manifest: checkpoint.manifest,
                                                  tensors: checkpoint.tensors)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(checkpoints.path), message)
            XCTAssertTrue(message.contains("Not a directory"), message)
        }
        // The rejected save of step 2 never started, and the error was reported once.
        XCTAssertNoThrow(try asyncWriter.waitUntilIdle())

        try asyncWriter.save(step: 3, manifest: checkpoint.manifest, tensors: checkpoint.tensors)
        XCTAssertThrowsError(try asyncWriter.waitUntilIdle()) { error in
            XCTAssertTrue("\(error)".contains(checkpoints.path), "\(error)")
        }
        XCTAssertNil(asyncWriter.lastCompletedSave)
    }
}
