/// Sums `values` in the order of NumPy's pairwise summation (`np.add.reduce` on a contiguous
/// float64 array, checked against NumPy 2.4), so areas and means agree with scikit-learn to the last bit.
///
/// Below 8 values the sum runs left to right. Up to 128 values, eight running sums take every
/// eighth value and are combined as `((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`, and
/// the leftover tail is added one by one. Longer inputs split at a multiple of 8 near the
/// middle and add the two halves' sums.
func pairwiseSum(_ values: UnsafeBufferPointer<Double>) -> Double {
    let count = values.count
    if count < 8 {
        var sum = 0.0
        for value in values {
            sum += value
        }
        return sum
    }

    if count <= 128 {
        var r0 = values[0], r1 = values[1], r2 = values[2], r3 = values[3]
        var r4 = values[4], r5 = values[5], r6 = values[6], r7 = values[7]
        let blockedEnd = count - count % 8
        var i = 8
        while i < blockedEnd {
            r0 += values[i]
            r1 += values[i + 1]
            r2 += values[i + 2]
            r3 += values[i + 3]
            r4 += values[i + 4]
            r5 += values[i + 5]
            r6 += values[i + 6]
            r7 += values[i + 7]
            i += 8
        }
        var sum = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < count {
            sum += values[i]
            i += 1
        }
        return sum
    }

    var half = count / 2
    half -= half % 8
    let left = UnsafeBufferPointer(rebasing: values[0..<half])
    let right = UnsafeBufferPointer(rebasing: values[half..<count])
    return pairwiseSum(left) + pairwiseSum(right)
}

/// Sums an array in NumPy's pairwise order, as the buffer version does.
func pairwiseSum(_ values: [Double]) -> Double {
    values.withUnsafeBufferPointer { pairwiseSum($0) }
}

/// Returns the trapezoid-rule area under the polyline `(x[i], y[i])`, as `numpy.trapezoid`
/// computes it: the terms `(x[i+1] - x[i]) * (y[i+1] + y[i]) / 2` added in pairwise order.
///
/// `x` must be sorted in ascending order, as scikit-learn's `auc` requires of a ROC curve.
func trapezoidArea(x: [Double], y: [Double]) -> Double {
    precondition(x.count == y.count, "trapezoidArea: \(x.count) x values but \(y.count) y values")
    guard x.count >= 2 else { return 0 }

    var terms = [Double](repeating: 0, count: x.count - 1)
    for i in 0..<terms.count {
        terms[i] = (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0
    }
    return pairwiseSum(terms)
}
