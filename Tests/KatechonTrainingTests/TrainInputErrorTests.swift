import Foundation
import XCTest

/// Mistakes a user makes on the train command line, each rejected at start with a
/// message that names the problem and the fix.
final class TrainInputErrorTests: XCTestCase {
    func testExistingRunDirectoryNeedsResume() throws {
        let out = try Harness.temporaryFolder("existing")
        let first = try Harness.run(Harness.trainArguments(out: out, batch: 4, steps: 1), timeout: 120)
        XCTAssertEqual(first.status, 0, first.summary)
        let before = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path)

        let second = try Harness.run(Harness.trainArguments(out: out, batch: 4, steps: 2), timeout: 120)
        XCTAssertNotEqual(second.status, 0, second.summary)
        XCTAssertTrue(second.stderr.contains("already contains an earlier run"), second.summary)
        XCTAssertTrue(second.stderr.contains("--resume auto"), second.summary)
        let after = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path)
        XCTAssertEqual(Set(after), Set(before), "the rejected run changed the checkpoints")
    }

    func testSingleClassLabelIsRejected() throws {
        // Benign UDA-1 images only.
        let folder = try Harness.temporaryFolder("benign")
        let source = Harness.sharedData.appendingPathComponent("isic-uda1")
        var copied = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path).sorted() where name.hasSuffix(".json") {
            let record = try String(contentsOf: source.appendingPathComponent(name), encoding: .utf8)
            guard record.contains("\"benign_malignant\": \"benign\"") else { continue }
            let id = String(name.dropLast(".json".count))
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            try FileManager.default.copyItem(at: source.appendingPathComponent(id + ".jpg"),
                                             to: folder.appendingPathComponent(id + ".jpg"))
            copied += 1
            if copied == 20 { break }
        }
        XCTAssertEqual(copied, 20, "benign records found")

        let outcome = try Harness.run(["train", "--images", folder.path, "--out", folder.appendingPathComponent("run").path,
                                       "--label", "benign_malignant", "--categorical", "sex", "--numeric", "age_approx",
                                       "--image-size", "32", "--steps", "1", "--folds", "2"], timeout: 120)
        XCTAssertNotEqual(outcome.status, 0, outcome.summary)
        XCTAssertTrue(outcome.stderr.contains("only the class 'benign'"), outcome.summary)
    }

    func testInvalidOptionsAreRejected() throws {
        let out = try Harness.temporaryFolder("options")
        let cases: [([String], String)] = [
            (["--lr", "-1"], "--lr must be positive"),
            (["--fold", "7"], "--fold must be between 0 and 3"),
            (["--image-size", "30"], "multiple of the patch size 16"),
            (["--numeric", "sex"], "numeric column 'sex' has no number"),
        ]
        for (extra, expected) in cases {
            let outcome = try Harness.run(Harness.trainArguments(out: out.appendingPathComponent("run"), batch: 4, steps: 1, extra: extra),
                                          timeout: 120)
            XCTAssertNotEqual(outcome.status, 0, "\(extra) accepted: \(outcome.summary)")
            XCTAssertTrue(outcome.stderr.contains(expected), "\(extra): \(outcome.summary)")
        }

        let typo = try Harness.run(["train", "--imagse", "x", "--out", out.path])
        XCTAssertEqual(typo.status, 2, typo.summary)
        XCTAssertTrue(typo.stderr.contains("did you mean --images?"), typo.summary)
    }
}
