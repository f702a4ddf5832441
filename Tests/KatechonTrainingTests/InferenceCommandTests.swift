import Foundation
import KatechonCheckpoint
import XCTest

/// evaluate, predict, features, score, export and inspect, run as a user runs them.
final class InferenceCommandTests: XCTestCase {
    /// A checkpoint trained for a few steps on the synthetic data, made once.
    static var trainedRun: URL?
    func trainedCheckpoint() throws -> URL {
        if let run = Self.trainedRun { return latest(run) }
        let demo = try Harness.demoData()
        let out = try Harness.temporaryFolder("trained")
        let outcome = try Harness.run(
            ["train", "--metadata", demo.appendingPathComponent("train-metadata.csv").path,
             "--images", demo.appendingPathComponent("train-image.hdf5").path, "--out", out.path,
             "--backbone", "tiny", "--image-size", "32", "--trainable-blocks", "1", "--fusion-width", "32",
             "--fusion-heads", "2", "--batch-size", "8", "--steps", "6", "--folds", "4", "--threads", "1"],
            ranks: 2, timeout: 300)
        XCTAssertEqual(outcome.status, 0, outcome.summary)
        Self.trainedRun = out
        return latest(out)
    }

    func latest(_ run: URL) -> URL {
        let folder = run.appendingPathComponent("checkpoints")
        let name = (try? String(contentsOf: folder.appendingPathComponent("latest"), encoding: .utf8)) ?? ""
        return folder.appendingPathComponent(name.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testPredictRealISIC2024TestCrops() throws {
        let checkpoint = try trainedCheckpoint()
        let real = Harness.sharedData.appendingPathComponent("isic2024-test")
        let out = try Harness.temporaryFolder("predict").appendingPathComponent("submission.csv")
        let outcome = try Harness.run(["predict", "--checkpoint", checkpoint.path,
                                       "--metadata", real.appendingPathComponent("test-metadata.csv").path,
                                       "--images", real.appendingPathComponent("test-image.hdf5").path,
                                       "--out", out.path])
        XCTAssertEqual(outcome.status, 0, outcome.summary)

        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "isic_id,target")
        XCTAssertEqual(lines.count, 4, "header and three rows expected: \(lines)")
        let ids = lines.dropFirst().map { String($0.split(separator: ",")[0]) }
        XCTAssertEqual(ids, ["ISIC_0015657", "ISIC_0015729", "ISIC_0015740"], "rows not in metadata order")
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",")
            XCTAssertEqual(fields.count, 2, line)
            let probability = Double(fields[1])
            XCTAssertNotNil(probability, line)
            XCTAssertTrue((0...1).contains(probability ?? -1), line)
        }
    }

    func testPredictionsIndependentOfBatchAndRanks() throws {
        let checkpoint = try trainedCheckpoint()
        let demo = try Harness.demoData()
        let folder = try Harness.temporaryFolder("invariance")
        var outputs: [[String: Double]] = []
        for (ranks, batch) in [(1, 64), (1, 1), (2, 5)] {
            let out = folder.appendingPathComponent("p-\(ranks)-\(batch).csv")
            let outcome = try Harness.run(["predict", "--checkpoint", checkpoint.path,
                                           "--metadata", demo.appendingPathComponent("train-metadata.csv").path,
                                           "--images", demo.appendingPathComponent("train-image.hdf5").path,
                                           "--out", out.path, "--batch-size", String(batch)], ranks: ranks)
            XCTAssertEqual(outcome.status, 0, outcome.summary)
            var rows: [String: Double] = [:]
            for line in try String(contentsOf: out, encoding: .utf8).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: ",")
                rows[String(fields[0])] = Double(fields[1])
            }
            outputs.append(rows)
        }
        XCTAssertEqual(outputs[0].count, 240)
        // Other batch sizes change the blocking of the matrix products, not the math.
        let tolerance = 1e-6
        for other in outputs.dropFirst() {
            XCTAssertEqual(Set(other.keys), Set(outputs[0].keys))
            let worst = outputs[0].map { abs($0.value - (other[$0.key] ?? .infinity)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tolerance, "largest deviation \(worst), tolerance \(tolerance)")
        }
    }

    func testEvaluateMatchesScoreOfItsPredictions() throws {
        let checkpoint = try trainedCheckpoint()
        let demo = try Harness.demoData()
        let folder = try Harness.temporaryFolder("evaluate")
        let metadata = demo.appendingPathComponent("train-metadata.csv").path
        let images = demo.appendingPathComponent("train-image.hdf5").path
        let roc = folder.appendingPathComponent("roc.png")
        let evaluated = try Harness.run(["evaluate", "--checkpoint", checkpoint.path, "--metadata", metadata,
                                         "--images", images, "--out", folder.appendingPathComponent("m.json").path,
                                         "--roc", roc.path], ranks: 2)
        XCTAssertEqual(evaluated.status, 0, evaluated.summary)
        let submission = folder.appendingPathComponent("s.csv")
        let predicted = try Harness.run(["predict", "--checkpoint", checkpoint.path, "--metadata", metadata,
                                         "--images", images, "--out", submission.path])
        XCTAssertEqual(predicted.status, 0, predicted.summary)
        let scored = try Harness.run(["score", "--predictions", submission.path, "--truth", metadata])
        XCTAssertEqual(scored.status, 0, scored.summary)

        let fromEvaluate = try metrics(evaluated.stdout)
        let fromScore = try metrics(scored.stdout)
        for key in ["auc", "pauc_tpr80", "top15_sensitivity"] {
            let a = try XCTUnwrap(fromEvaluate[key], "evaluate printed no \(key): \(evaluated.stdout)")
            let b = try XCTUnwrap(fromScore[key], "score printed no \(key): \(scored.stdout)")
            XCTAssertEqual(a, b, accuracy: 1e-6, key)
        }
        XCTAssertEqual(try metrics(String(contentsOf: folder.appendingPathComponent("m.json"), encoding: .utf8))["auc"],
                       fromEvaluate["auc"])
        let png = try Data(contentsOf: roc)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "ROC file is not a PNG")
    }

    func testFeaturesMatchTimmPreLogits() throws {
        let fixture = Harness.packageRoot.appendingPathComponent("Tests/KatechonTrainingTests/Fixtures/features")
        struct Expected: Decodable { let ids: [String]; let cls: [[Float]]; let mean: [[Float]] }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture.appendingPathComponent("expected.json")))
        let folder = try Harness.temporaryFolder("features")

        for (pool, reference, ranks) in [("cls", expected.cls, 1), ("mean", expected.mean, 2)] {
            let out = folder.appendingPathComponent("\(pool).safetensors")
            let outcome = try Harness.run(["features", "--backbone", fixture.appendingPathComponent("backbone.safetensors").path,
                                           "--images", fixture.appendingPathComponent("images").path,
                                           "--out", out.path, "--pool", pool, "--vit-heads", "3", "--batch-size", "2"],
                                          ranks: ranks)
            XCTAssertEqual(outcome.status, 0, outcome.summary)
            let contents = try Safetensors.read(out)
            let features = try XCTUnwrap(contents.tensors.first { $0.name == "features" })
            XCTAssertEqual(features.shape, [3, 48])
            let ids = try JSONDecoder().decode([String].self, from: Data((contents.metadata["isic_ids"] ?? "").utf8))
            XCTAssertEqual(ids, expected.ids)
            let flat = reference.flatMap { $0 }
            let worst = zip(features.values, flat).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(pool) pooling: largest deviation \(worst), tolerance 1e-4")
        }
    }

    func testScoreMatchesReferenceFixture() throws {
        // The metrics fixture (scikit-learn with the challenge's formula) as CSV files.
        let fixtureURL = Harness.packageRoot.appendingPathComponent("Tests/KatechonMetricsTests/Fixtures/metrics_fixture.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL)) as! [String: Any]
        let cases = object["binary"] as! [[String: Any]]
        let folder = try Harness.temporaryFolder("score")
        var compared = 0
        for (index, testCase) in cases.enumerated() {
            let labels = (testCase["labels"] as! [NSNumber]).map(\.intValue)
            let scores = testCase["scores"] as! [NSNumber]
            guard let expectedAUC = (testCase["auc"] as? NSNumber)?.doubleValue,
                  let expectedPAUC = (testCase["pauc_tpr80"] as? NSNumber)?.doubleValue else { continue }
            var truth = "isic_id,target\n"
            var predictions = "isic_id,target\n"
            for i in labels.indices {
                truth += "ISIC_\(i),\(labels[i])\n"
                // Scores are written with all 17 significant digits so they round-trip.
                predictions += "ISIC_\(i),\(String(format: "%.17g", scores[i].doubleValue))\n"
            }
            let truthURL = folder.appendingPathComponent("truth-\(index).csv")
            let predictionsURL = folder.appendingPathComponent("predictions-\(index).csv")
            try Data(truth.utf8).write(to: truthURL)
            try Data(predictions.utf8).write(to: predictionsURL)
            let outcome = try Harness.run(["score", "--predictions", predictionsURL.path, "--truth", truthURL.path])
            XCTAssertEqual(outcome.status, 0, outcome.summary)
            let printed = try metrics(outcome.stdout)
            XCTAssertEqual(try XCTUnwrap(printed["auc"]), expectedAUC, accuracy: 1e-9, "case \(index) auc")
            XCTAssertEqual(try XCTUnwrap(printed["pauc_tpr80"]), expectedPAUC, accuracy: 1e-9, "case \(index) pauc")
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 5, "fixture cases compared")
    }

    func testScoreRejectsSingleClassAndMissingRows() throws {
        let folder = try Harness.temporaryFolder("score-errors")
        let truth = folder.appendingPathComponent("truth.csv")
        let predictions = folder.appendingPathComponent("predictions.csv")
        try Data("isic_id,target\nISIC_1,0\nISIC_2,0\n".utf8).write(to: truth)
        try Data("isic_id,target\nISIC_1,0.2\nISIC_2,0.3\n".utf8).write(to: predictions)
        let single = try Harness.run(["score", "--predictions", predictions.path, "--truth", truth.path])
        XCTAssertNotEqual(single.status, 0)
        XCTAssertTrue(single.stderr.contains("only class"), single.summary)

        try Data("isic_id,target\nISIC_1,0\nISIC_2,1\nISIC_3,1\n".utf8).write(to: truth)
        let missing = try Harness.run(["score", "--predictions", predictions.path, "--truth", truth.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("ISIC_3"), missing.summary)
    }

    func testExportAndInspect() throws {
        let checkpoint = try trainedCheckpoint()
        let out = try Harness.temporaryFolder("export").appendingPathComponent("model.safetensors")
        let exported = try Harness.run(["export", "--checkpoint", checkpoint.path, "--out", out.path])
        XCTAssertEqual(exported.status, 0, exported.summary)
        let contents = try Safetensors.read(out)
        let source = try CheckpointFile.read(checkpoint)
        let parameters = source.tensors.filter { !$0.name.hasPrefix("optimizer.") }
        XCTAssertEqual(contents.tensors.count, parameters.count, "export should hold every parameter and no optimizer state")
        for tensor in parameters {
            XCTAssertEqual(contents.tensors.first { $0.name == tensor.name }?.values, tensor.values, tensor.name)
        }
        XCTAssertNotNil(contents.metadata["katechon_metadata_schema"])

        let inspected = try Harness.run(["inspect", checkpoint.path])
        XCTAssertEqual(inspected.status, 0, inspected.summary)
        XCTAssertTrue(inspected.stdout.contains("image_encoder.blocks.11.attn.qkv.weight"), inspected.summary)
        XCTAssertTrue(inspected.stdout.contains("\"globalBatch\""), inspected.summary)
    }

    /// Returns the numbers of a flat JSON object printed by evaluate or score.
    func metrics(_ text: String) throws -> [String: Double] {
        let line = try XCTUnwrap(text.split(separator: "\n").last { $0.hasPrefix("{") }, "no JSON in \(text)")
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        var result: [String: Double] = [:]
        for (key, value) in object {
            if let number = value as? NSNumber { result[key] = Double(number.description) ?? number.doubleValue }
        }
        return result
    }
}
