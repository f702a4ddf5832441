/// Returns the top-15 sensitivity: the fraction of all positive lesions that rank among the
/// 15 highest-scoring lesions of their own patient.
///
/// Definition, for `lesionsPerPatient = k` (15 by default):
/// ```
/// for each patient: rank that patient's lesions by score, highest first,
///                   and take the first k (all of them when the patient has k or fewer)
/// sensitivity = (positives inside the patients' top-k lists) / (all positives)
/// ```
/// A triage reader who looks at k lesions per patient finds this share of the melanomas.
///
/// Ties at the cut are shared rather than broken by row order. When `m` lesions tie for the
/// last `s` places and `p` of them are positive, they contribute `p * s / m` found positives.
/// This is the expected count under a random order of the tied lesions. The result therefore does not
/// depend on the order of the input rows.
///
/// - Throws: `MetricsError.noPositives` when no label is 1, `MetricsError.missingPatientID`
///   for an empty patient id, and the other `MetricsError` cases for empty, mismatched or
///   invalid input.
public func top15Sensitivity(
    labels: [Int32], scores: [Double], patientIDs: [String], lesionsPerPatient: Int = 15
) throws -> Double {
    precondition(lesionsPerPatient >= 1, "lesionsPerPatient must be at least 1")
    let metric = "top-\(lesionsPerPatient) sensitivity"
    guard !labels.isEmpty else {
        throw MetricsError.empty(metric: metric)
    }
    guard labels.count == scores.count else {
        throw MetricsError.lengthMismatch(
            metric: metric, labels: labels.count, other: "scores", otherCount: scores.count)
    }
    guard labels.count == patientIDs.count else {
        throw MetricsError.lengthMismatch(
            metric: metric, labels: labels.count, other: "patient ids", otherCount: patientIDs.count)
    }

    var positives = 0
    var lesionsByPatient: [String: [Int]] = [:]
    for index in labels.indices {
        guard labels[index] == 0 || labels[index] == 1 else {
            throw MetricsError.invalidBinaryLabel(index: index, value: labels[index])
        }
        guard scores[index].isFinite else {
            throw MetricsError.nonFiniteScore(index: index, value: scores[index])
        }
        guard !patientIDs[index].isEmpty else {
            throw MetricsError.missingPatientID(index: index)
        }
        positives += Int(labels[index])
        lesionsByPatient[patientIDs[index], default: []].append(index)
    }
    guard positives > 0 else {
        throw MetricsError.noPositives(count: labels.count)
    }

    // Sum patients in id order so the rounding does not depend on dictionary order.
    var found = 0.0
    for patient in lesionsByPatient.keys.sorted() {
        let lesions = lesionsByPatient[patient]!
        found += foundPositives(
            lesions: lesions, labels: labels, scores: scores, limit: lesionsPerPatient)
    }
    return found / Double(positives)
}

/// Returns the number of positives among one patient's `limit` highest-scoring lesions, with
/// a tie at the cut shared in proportion to the places left.
private func foundPositives(
    lesions: [Int], labels: [Int32], scores: [Double], limit: Int
) -> Double {
    if lesions.count <= limit {
        return Double(lesions.reduce(0) { $0 + Int(labels[$1]) })
    }

    let ranked = lesions.sorted { scores[$0] > scores[$1] }
    let cutScore = scores[ranked[limit - 1]]

    var positivesAbove = 0
    var lesionsAbove = 0
    var positivesTied = 0
    var lesionsTied = 0
    for lesion in ranked {
        if scores[lesion] > cutScore {
            lesionsAbove += 1
            positivesAbove += Int(labels[lesion])
        } else if scores[lesion] == cutScore {
            lesionsTied += 1
            positivesTied += Int(labels[lesion])
        }
    }

    let placesLeft = limit - lesionsAbove
    return Double(positivesAbove) + Double(positivesTied * placesLeft) / Double(lesionsTied)
}
