import Foundation

/// Writes a synthetic data set in the ISIC 2024 layout (`train-metadata.csv` with the
/// real column names and `train-image.hdf5` with one JPEG per `isic_id`) for demos,
/// smoke tests and benchmarks without the real data.
///
/// A rare positive class is carried both by the images and by the metadata, so a
/// simple model on either should beat AUC 0.5 clearly:
/// - patients: a few have many lesions; older patients and a patient-level risk factor
///   raise the positive rate, so positives cluster by patient;
/// - metadata: positives are larger, darker, more eccentric, asymmetric and variegated
///   (`clin_size_long_diam_mm`, `tbp_lv_*`). They sit more often on the head, neck and
///   back, and have a low `tbp_lv_nevi_confidence`. Age, sex and site are sometimes
///   missing;
/// - images: crops of 115 to 145 px of skin-toned background with shading, noise and
///   hairs; the lesion's radius follows its size, its border irregularity and colour
///   variegation follow the same measurements as the metadata.
public enum SyntheticISIC {
    /// The columns of the written CSV: those of the ISIC 2024 test metadata, then the
    /// train-only ones.
    public static let columns = MetadataSchema.isic2024SharedColumns + [
        "target", "lesion_id", "iddx_full", "iddx_1", "iddx_2", "iddx_3", "iddx_4", "iddx_5",
        "mel_mitotic_index", "mel_thick_mm", "tbp_lv_dnn_lesion_confidence",
    ]

    /// The files and counts that `write` produced.
    public struct Summary: Sendable {
        public let metadataURL: URL
        public let imagesURL: URL
        public let lesions: Int
        public let patients: Int
        public let positives: Int
    }

    private static let sites = ["posterior torso", "lower extremity", "anterior torso", "upper extremity", "head/neck"]
    private static let negativeSiteWeights = [0.30, 0.27, 0.20, 0.15, 0.08]
    private static let positiveSiteWeights = [0.34, 0.12, 0.14, 0.10, 0.30]
    private static let locations: [String: [(String, String)]] = [
        "posterior torso": [("Torso Back Top Third", "Torso Back"), ("Torso Back Middle Third", "Torso Back")],
        "lower extremity": [("Left Leg - Upper", "Left Leg"), ("Right Leg - Lower", "Right Leg")],
        "anterior torso": [("Torso Front Top Half", "Torso Front"), ("Torso Front Bottom Half", "Torso Front")],
        "upper extremity": [("Left Arm - Upper", "Left Arm"), ("Right Arm - Lower", "Right Arm")],
        "head/neck": [("Head & Neck", "Head & Neck")],
    ]
    private static let attributions = [
        "Memorial Sloan Kettering Cancer Center",
        "Frazer Institute, The University of Queensland, Dermatology Research Centre",
        "FNQH Cairns",
    ]

    /// One patient's fixed traits.
    private struct Patient {
        var age: Int?
        var sex: String?
        var skin: (Double, Double, Double)
        var risk: Double
        var attribution: String
    }

    /// Writes `lesions` lesions of `patients` patients into `folder` (created if
    /// needed). The expected positive fraction is `positiveRate`, with at least one
    /// positive. The same arguments always write the same files.
    @discardableResult
    public static func write(to folder: URL, lesions: Int, patients: Int, positiveRate: Double,
                             seed: UInt64) throws -> Summary {
        guard lesions >= 1, patients >= 1, patients <= lesions else {
            throw DataError.invalidSetting(name: "synthetic sizes", value: "\(lesions) lesions, \(patients) patients",
                                           reason: "need at least one lesion and one patient, and no more patients than lesions")
        }
        guard positiveRate > 0, positiveRate < 1 else {
            throw DataError.invalidSetting(name: "--positive-rate", value: String(positiveRate), reason: "must lie strictly between 0 and 1")
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw DataError.unreadableFile(path: folder.path, reason: error.localizedDescription)
        }

        // Patients: age, sex, skin tone and a risk factor whose mean is 1.
        var people: [Patient] = []
        for p in 0..<patients {
            var random = SampleRandom(seed: seed, epoch: 1, index: p)
            let age = 30 + 5 * random.below(12)
            let sex = random.unit() < 0.5 ? "male" : "female"
            let tone = random.uniform(0...1)
            let skin = (225 - 45 * tone, 180 - 50 * tone, 150 - 55 * tone)
            let ageFactor = 0.5 + Double(age - 30) / 40
            let risk = ageFactor * exp(0.7 * random.normal())
            people.append(Patient(age: random.unit() < 0.02 ? nil : age, sex: random.unit() < 0.03 ? nil : sex,
                                  skin: skin, risk: risk,
                                  attribution: attributions[random.below(attributions.count)]))
        }
        let meanRisk = people.reduce(0) { $0 + $1.risk } / Double(patients)

        // Lesions: every patient gets one, the rest go to patients with a skewed draw.
        var owner = Array(0..<patients)
        var ownerRandom = SampleRandom(seed: seed, epoch: 2, index: 0)
        for _ in patients..<lesions {
            owner.append(min(Int(Double(patients) * pow(ownerRandom.unit(), 2)), patients - 1))
        }
        ownerRandom.shuffle(&owner)

        let imagesURL = folder.appendingPathComponent("train-image.hdf5")
        let metadataURL = folder.appendingPathComponent("train-metadata.csv")
        let writer = try HDF5ImageWriter(path: imagesURL.path)
        var csv = columns.joined(separator: ",") + "\n"
        var positives = 0

        for i in 0..<lesions {
            var random = SampleRandom(seed: seed, epoch: 3, index: i)
            let patient = people[owner[i]]
            let chance = min(positiveRate * patient.risk / meanRisk, 0.9)
            let positive = random.unit() < chance || (i == lesions - 1 && positives == 0)
            if positive { positives += 1 }

            let id = String(format: "ISIC_%07d", 1_000_000 + i)
            let lesion = Lesion(positive: positive, skin: patient.skin, random: &random)
            let image = lesion.render(random: &random)
            try writer.add(id, bytes: ImageDecoder.encodeJPEG(image, quality: 90))
            csv += csvRow(id: id, patientIndex: owner[i], patient: patient, lesion: lesion, random: &random) + "\n"
        }
        try writer.close()
        do {
            try Data(csv.utf8).write(to: metadataURL)
        } catch {
            throw DataError.unreadableFile(path: metadataURL.path, reason: error.localizedDescription)
        }
        return Summary(metadataURL: metadataURL, imagesURL: imagesURL, lesions: lesions, patients: patients, positives: positives)
    }

    /// The measurements of one lesion, shared by its image and its metadata.
    private struct Lesion {
        var positive: Bool
        var skin: (Double, Double, Double)
        var site: String
        var diameterMM: Double
        var eccentricity: Double
        var irregularity: Double      // tbp_lv_norm_border, 0...10
        var variegation: Double       // tbp_lv_color_std_mean
        var darkness: Double          // lightness drop against the skin, in L units
        var asymmetry: Double         // tbp_lv_symm_2axis
        var neviConfidence: Double

        init(positive: Bool, skin: (Double, Double, Double), random: inout SampleRandom) {
            self.positive = positive
            self.skin = skin
            let weights = positive ? SyntheticISIC.positiveSiteWeights : SyntheticISIC.negativeSiteWeights
            var u = random.unit()
            var chosen = SyntheticISIC.sites.count - 1
            for (k, w) in weights.enumerated() {
                if u < w { chosen = k; break }
                u -= w
            }
            site = SyntheticISIC.sites[chosen]
            diameterMM = exp((positive ? 1.65 : 1.2) + (positive ? 0.35 : 0.3) * random.normal())
            eccentricity = min(max((positive ? 0.68 : 0.6) + 0.15 * random.normal(), 0.05), 0.97)
            irregularity = min(max((positive ? 4.5 : 3.0) + 1.6 * random.normal(), 0), 10)
            variegation = max((positive ? 1.0 : 0.5) + (positive ? 0.5 : 0.3) * random.normal(), 0)
            darkness = max((positive ? 22.0 : 13.0) + 6 * random.normal(), 2)
            asymmetry = min(max((positive ? 0.33 : 0.25) + 0.12 * random.normal(), 0), 1)
            neviConfidence = min(max((positive ? 55.0 : 75.0) + 25 * random.normal(), 0), 100)
        }

        /// Draws the crop: shaded skin with noise, the lesion with an irregular border
        /// and colour blotches, and a few hairs.
        func render(random: inout SampleRandom) -> RGBImage {
            let n = 115 + random.below(31)
            let pixelsPerMM = Double(n) / 15
            let radius = min(diameterMM / 2 * pixelsPerMM, 0.42 * Double(n))
            let centreX = Double(n) / 2 + random.uniform(-5...5), centreY = Double(n) / 2 + random.uniform(-5...5)
            let axisAngle = random.uniform(0...Double.pi)
            let minorScale = (1 - eccentricity * eccentricity).squareRoot()

            // Border: radius(θ) = r (1 + Σ a_k cos(kθ + φ_k)), rougher for higher irregularity.
            var harmonics: [(Double, Double)] = []
            for k in 2...7 {
                let amplitude = irregularity / 10 * 0.22 / Double(k).squareRoot() * random.uniform(0.3...1)
                harmonics.append((amplitude, random.uniform(0...(2 * Double.pi))))
            }

            // Lesion colour: brown, darkened by `darkness`; blotches of darker brown,
            // blue-grey and red scaled by `variegation`.
            let shade = 1 - darkness / 60
            let base = (skin.0 * 0.72 * shade, skin.1 * 0.55 * shade, skin.2 * 0.45 * shade)
            let palette: [(Double, Double, Double)] = [(70, 45, 35), (95, 95, 115), (165, 80, 80), (120, 75, 50)]
            var blotches: [(x: Double, y: Double, size: Double, colour: (Double, Double, Double), weight: Double)] = []
            for _ in 0..<4 {
                let angle = random.uniform(0...(2 * Double.pi)), distance = random.uniform(0...0.7) * radius
                blotches.append((centreX + distance * cos(angle), centreY + distance * sin(angle),
                                 max(radius * random.uniform(0.25...0.6), 1.5), palette[random.below(palette.count)],
                                 min(variegation / 2.5, 0.85) * random.uniform(0.5...1)))
            }
            let shadingX = random.uniform(-0.08...0.08), shadingY = random.uniform(-0.08...0.08)

            // Border radius factor by angle, tabulated so the pixel loop needs no cosines.
            let angleBins = 720
            var edgeByAngle = [Double](repeating: 1, count: angleBins + 1)
            for bin in 0...angleBins {
                let theta = -Double.pi + 2 * Double.pi * Double(bin) / Double(angleBins)
                for (k, harmonic) in harmonics.enumerated() {
                    edgeByAngle[bin] += harmonic.0 * cos(Double(k + 2) * theta + harmonic.1)
                }
            }
            let cosAxis = cos(axisAngle), sinAxis = sin(axisAngle)

            var pixels = [UInt8](repeating: 0, count: n * n * 3)
            for y in 0..<n {
                for x in 0..<n {
                    let light = 1 + shadingX * (Double(x) / Double(n) - 0.5) + shadingY * (Double(y) / Double(n) - 0.5)
                    var colour = (skin.0 * light, skin.1 * light, skin.2 * light)

                    // Distance in the lesion's own frame, with the minor axis squeezed.
                    let dx = Double(x) + 0.5 - centreX, dy = Double(y) + 0.5 - centreY
                    let along = dx * cosAxis + dy * sinAxis
                    let across = (-dx * sinAxis + dy * cosAxis) / minorScale
                    let distance = (along * along + across * across).squareRoot()
                    if distance < radius * 1.6 {
                        let theta = atan2(across, along)
                        let edge = edgeByAngle[Int((theta + Double.pi) / (2 * Double.pi) * Double(angleBins))]
                        let coverage = min(max((radius * edge - distance) / 1.5 + 0.5, 0), 1)
                        if coverage > 0 {
                            var inside = base
                            for blotch in blotches {
                                let bx = Double(x) - blotch.x, by = Double(y) - blotch.y
                                let squared = (bx * bx + by * by) / (2 * blotch.size * blotch.size)
                                if squared > 8 { continue }
                                let w = blotch.weight * exp(-squared)
                                inside = (inside.0 + w * (blotch.colour.0 - inside.0), inside.1 + w * (blotch.colour.1 - inside.1),
                                          inside.2 + w * (blotch.colour.2 - inside.2))
                            }
                            colour = (colour.0 + coverage * (inside.0 - colour.0), colour.1 + coverage * (inside.1 - colour.1),
                                      colour.2 + coverage * (inside.2 - colour.2))
                        }
                    }
                    let noise = random.uniform(-4...4)
                    let p = (y * n + x) * 3
                    pixels[p] = UInt8(min(max(colour.0 + noise, 0), 255))
                    pixels[p + 1] = UInt8(min(max(colour.1 + noise, 0), 255))
                    pixels[p + 2] = UInt8(min(max(colour.2 + noise, 0), 255))
                }
            }

            // Hairs: dark quadratic Bézier curves one or two pixels wide.
            for _ in 0..<random.below(5) {
                let p0 = (random.uniform(0...Double(n)), random.uniform(0...Double(n)))
                let p1 = (random.uniform(0...Double(n)), random.uniform(0...Double(n)))
                let p2 = (random.uniform(0...Double(n)), random.uniform(0...Double(n)))
                let width = random.below(2) + 1
                let darknessOfHair = random.uniform(0.25...0.5)
                for step in 0..<(3 * n) {
                    let t = Double(step) / Double(3 * n)
                    let hx = (1 - t) * (1 - t) * p0.0 + 2 * (1 - t) * t * p1.0 + t * t * p2.0
                    let hy = (1 - t) * (1 - t) * p0.1 + 2 * (1 - t) * t * p1.1 + t * t * p2.1
                    for oy in 0..<width {
                        for ox in 0..<width {
                            let px = Int(hx) + ox, py = Int(hy) + oy
                            guard px >= 0, px < n, py >= 0, py < n else { continue }
                            for c in 0..<3 {
                                let index = (py * n + px) * 3 + c
                                pixels[index] = UInt8(Double(pixels[index]) * darknessOfHair)
                            }
                        }
                    }
                }
            }
            return RGBImage(width: n, height: n, pixels: pixels)
        }
    }

    /// Formats a number like the ISIC files, which print float32 values in their
    /// shortest form (`45.0`, `3.846876`, `8.052259e-13`).
    private static func number(_ value: Double) -> String {
        Float(value).description
    }

    /// Quotes a CSV field when it contains a comma, quote or line break.
    private static func quoted(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func csvRow(id: String, patientIndex: Int, patient: Patient, lesion: Lesion,
                               random: inout SampleRandom) -> String {
        let skinL = (0.2126 * lesion.skin.0 + 0.7152 * lesion.skin.1 + 0.0722 * lesion.skin.2) / 2.55
        let lesionL = skinL - lesion.darkness
        let skinA = 14 + 4 * random.normal(), skinB = 24 + 4 * random.normal()
        let lesionA = skinA + (lesion.positive ? 6 : 3) + 2 * random.normal()
        let lesionB = skinB + (lesion.positive ? 4 : 2) + 2 * random.normal()
        let chroma = (lesionA * lesionA + lesionB * lesionB).squareRoot()
        let chromaExt = (skinA * skinA + skinB * skinB).squareRoot()
        let hue = atan2(lesionB, lesionA) * 180 / Double.pi
        let hueExt = atan2(skinB, skinA) * 180 / Double.pi
        let deltaA = lesionA - skinA, deltaB = lesionB - skinB, deltaL = lesionL - skinL
        let deltaLB = (deltaL * deltaL + deltaB * deltaB).squareRoot()
        let minorAxis = lesion.diameterMM * (1 - lesion.eccentricity * lesion.eccentricity).squareRoot()
        let area = Double.pi / 4 * lesion.diameterMM * minorAxis
        let perimeter = Double.pi * (lesion.diameterMM + minorAxis) / 2 * (1 + lesion.irregularity * 0.04)
        let site = random.unit() < 0.015 ? nil : lesion.site
        let location = SyntheticISIC.locations[lesion.site]![random.below(SyntheticISIC.locations[lesion.site]!.count)]
        let size = random.unit() < 0.005 ? nil : lesion.diameterMM

        var cells: [String] = [
            id, String(format: "IP_%07d", 1_000_000 + patientIndex),
            patient.age.map { number(Double($0)) } ?? "", patient.sex ?? "", site ?? "",
            size.map(number) ?? "", "TBP tile: close-up", random.unit() < 0.5 ? "3D: XP" : "3D: white",
            number(lesionA), number(skinA), number(lesionB), number(skinB), number(chroma), number(chromaExt),
            number(hue), number(hueExt), number(lesionL), number(skinL), number(area),
            number(perimeter * perimeter / area), number(lesion.variegation),
            number(deltaA), number(deltaB), number(deltaL), number(deltaLB), number(deltaLB * random.uniform(0.8...1.2)),
            number(lesion.eccentricity), location.0, location.1, number(minorAxis),
            number(lesion.neviConfidence),
            number(lesion.irregularity), number(min(lesion.variegation * 3, 10)), number(perimeter),
            number(lesion.variegation * random.uniform(0.5...1.5)), number(2 + lesion.variegation),
            number(2 + 0.5 * random.normal().magnitude), number(lesion.asymmetry),
            number(Double(5 * random.below(37))),
            number(random.uniform(-300...300)), number(random.uniform(0...1800)), number(random.uniform(-150...150)),
            quoted(patient.attribution), "CC-BY",
        ]

        // Train-only columns, known after diagnosis.
        let hasLesionID = lesion.positive || random.unit() < 0.1
        cells.append(lesion.positive ? "1" : "0")
        cells.append(hasLesionID ? String(format: "IL_%07d", 1_000_000 + Int(random.below(9_000_000))) : "")
        if lesion.positive {
            cells += ["Malignant::Malignant melanocytic proliferations (Melanoma)::Melanoma Invasive", "Malignant",
                      "Malignant melanocytic proliferations (Melanoma)", "Melanoma Invasive", "", ""]
            cells.append(random.unit() < 0.3 ? "<1/mm^2" : "")
            cells.append(random.unit() < 0.5 ? number(random.uniform(0.2...2)) : "")
        } else {
            cells += ["Benign", "Benign", "", "", "", "", "", ""]
        }
        cells.append(number(min(max((lesion.positive ? 65.0 : 85.0) + 15 * random.normal(), 0), 100)))
        return cells.joined(separator: ",")
    }
}
