import Foundation
import KatechonData

/// `katechon-dist synth`: a synthetic demo data set in the ISIC 2024 layout.
public enum SynthCommand {
    public static let subcommand = Subcommand(
        name: "synth",
        usage: "katechon-dist synth --out DIR [--lesions N] [--patients P] [--positive-rate R] [--seed S]",
        summary: """
            Write SYNTHETIC demo data in the ISIC 2024 layout (train-metadata.csv, train-image.hdf5).
            The lesions are drawn by a program, not photographed: image and metadata carry a
            made-up signal about a rare positive class, for demos and tests only.
            """,
        options: [
            .value("--out", "DIR", "folder to write train-metadata.csv and train-image.hdf5 into"),
            .value("--lesions", "N", "number of lesion crops", default: "2000"),
            .value("--patients", "P", "number of patients the lesions are spread over", default: "200"),
            .value("--positive-rate", "R", "fraction of malignant lesions", default: "0.05"),
            .value("--seed", "S", "random seed", default: "0"),
        ],
        run: { options in
            let out = URL(fileURLWithPath: try options.required("--out"))
            let lesions = try positiveInt(options, "--lesions")
            let patients = try positiveInt(options, "--patients")
            let rate = try options.double("--positive-rate")!
            guard rate > 0, rate < 1 else {
                throw CommandLineError("--positive-rate must be between 0 and 1, got \(rate)")
            }
            guard let seed = UInt64(options.string("--seed")!) else {
                throw CommandLineError("--seed expects a non-negative integer")
            }
            let summary = try SyntheticISIC.write(to: out, lesions: lesions, patients: patients,
                                                  positiveRate: rate, seed: seed)
            print("wrote SYNTHETIC demo data: \(summary.lesions) lesions of \(summary.patients) patients, \(summary.positives) positive")
            print("  \(summary.metadataURL.path)")
            print("  \(summary.imagesURL.path)")
            return 0
        })
}
