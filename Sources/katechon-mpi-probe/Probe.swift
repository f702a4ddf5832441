import Foundation
import KatechonDistributed

/// The probe's subcommands. Each rank checks what it received against values it computes
/// itself, prints one line per check to standard output, and calls `fatal` on a mismatch.
struct Probe {
    let communicator: Communicator
    let options: ProbeOptions

    private var rank: Int { communicator.rank }
    private var size: Int { communicator.size }

    func info() {
        print("rank \(rank) size \(size) localRank \(communicator.localRank) "
              + "localSize \(communicator.localSize) threadLevel \(communicator.threadLevel)")
    }

    // MARK: allreduce

    /// Gradient that rank `rank` produces at `index` in step `step`: a multiple of 2^-16
    /// in about [-15.3, 15.3]. Up to 21 significant bits make binary16 and bfloat16 round
    /// most values, while sums over up to 16 ranks need at most 24 bits and so are exact in
    /// float in any order.
    static func gradientValue(rank: Int, index: Int, step: Int) -> Float {
        let mixed = (index &* 2_654_435_761 &+ rank &* 40_503 &+ step &* 977) % 2_000_001
        return Float(mixed - 1_000_000) / 65536
    }

    /// Runs `--steps` steps per case. Each step first poisons the buffer with NaN, then
    /// writes the gradients in slices of increasing offset and calls `markReady` after
    /// each slice, as backward does, so a bucket reduced before its gradients were written
    /// would come out NaN. Once the first bucket is ready and gradients remain to be
    /// written, the probe waits until that bucket is averaged, which shows that buckets
    /// travel while backward is still running. The average is compared with the exact one
    /// computed locally from every rank's values: bitwise for `none`, within the bound
    /// stated by `GradientCompression` otherwise. `--tolerance REL --absolute-tolerance ABS`
    /// replace that bound by REL · (mean over ranks of |gradient|) + ABS.
    func allReduce() throws {
        let compression = try options.compression()
        let steps = try options.integer("steps", default: 2)
        let tolerance = try options.tolerance()

        for reduceCase in try options.reduceCases() {
            let count = reduceCase.count
            let gradients = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            defer { gradients.deallocate() }
            let reducer = GradientReducer(communicator: communicator, gradients: gradients,
                                          count: count, bucketBytes: reduceCase.bucketBytes,
                                          compression: compression)
            let sliceLength = max(1, count / 13)
            var worstError: Float = 0
            var worstRatio: Float = 0

            for step in 0..<steps {
                gradients.update(repeating: .nan, count: count)

                var start = 0
                var overlapShown = size == 1
                while start < count {
                    let end = min(start + sliceLength, count)
                    for index in start..<end {
                        gradients[index] = Probe.gradientValue(rank: rank, index: index, step: step)
                    }
                    reducer.markReady(upTo: end)
                    if !overlapShown && end < count && reducer.buckets[0].upperBound <= end {
                        waitForFirstBucket(reducer, context: "case \(reduceCase), step \(step)")
                        overlapShown = true
                    }
                    start = end
                }
                reducer.finish()
                checkReplicasAgree(gradients, count: count, context: "case \(reduceCase), "
                                   + "compression \(compression), step \(step)")

                for index in 0..<count {
                    let (expected, bound) = expectedAverage(index: index, step: step,
                                                            compression: compression,
                                                            tolerance: tolerance)
                    let error = abs(gradients[index] - expected)
                    if !(error <= bound) {
                        communicator.fatal(
                            "allreduce mismatch: case \(reduceCase), compression \(compression), "
                            + "step \(step), index \(index): got \(gradients[index]), expected "
                            + "\(expected), error \(error) above bound \(bound)")
                    }
                    worstError = max(worstError, error)
                    if bound > 0 {
                        worstRatio = max(worstRatio, error / bound)
                    }
                }
            }

            let exposed = reducer.exposedCommunicationSeconds
            let busy = reducer.communicationBusySeconds
            reducer.shutdown()
            print("rank \(rank): allreduce ok case \(reduceCase) buckets \(reducer.buckets.count) "
                  + "compression \(compression) threadLevel \(communicator.threadLevel) "
                  + "steps \(steps) maxAbsError \(worstError) "
                  + "maxErrorOverBound \(worstRatio) exposedSeconds \(exposed) "
                  + "busySeconds \(busy)")
        }
    }

    /// Waits up to 30 s for the reducer to average its first bucket before `finish()`.
    private func waitForFirstBucket(_ reducer: GradientReducer, context: String) {
        let deadline = Date().addingTimeInterval(30)
        while reducer.reducedBucketCount < 1 {
            if Date() > deadline {
                communicator.fatal("bucket 0 was not averaged within 30 s of being marked "
                                   + "ready, before finish() (\(context))")
            }
            usleep(200)
        }
    }

    /// Aborts unless every rank holds bitwise the same averaged buffer, which every replica
    /// needs to apply the same optimizer step. Rank 0 compares a 64-bit FNV-1a-style hash
    /// (one xor-multiply per 32-bit float pattern) from each rank.
    private func checkReplicasAgree(_ gradients: UnsafeMutablePointer<Float>, count: Int,
                                    context: String) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for index in 0..<count {
            hash = (hash ^ UInt64(gradients[index].bitPattern)) &* 0x0000_0100_0000_01B3
        }
        let bytes = withUnsafeBytes(of: hash) { Array($0) }
        guard let hashes = communicator.gatherVariable(bytes: bytes, root: 0) else { return }
        if Set(hashes).count != 1 {
            communicator.fatal("allreduce results differ between ranks (\(context)): hashes "
                               + "\(hashes.map { $0.withUnsafeBytes { $0.load(as: UInt64.self) } })")
        }
    }

    /// Exact average of every rank's gradient at `index`, and the allowed deviation.
    private func expectedAverage(index: Int, step: Int, compression: GradientCompression,
                                 tolerance: (relative: Float, absolute: Float)?) -> (Float, Float) {
        var sum: Float = 0
        var magnitude: Float = 0
        for source in 0..<size {
            let value = Probe.gradientValue(rank: source, index: index, step: step)
            sum += value
            magnitude += abs(value)
        }
        let average = sum / Float(size)
        let meanMagnitude = magnitude / Float(size)

        if let tolerance {
            return (average, tolerance.relative * meanMagnitude + tolerance.absolute)
        }

        guard compression != .none, size > 1 else { return (average, 0) }

        // N·u·m from GradientCompression, with 1% for second-order terms and 2^-22·m for
        // scaling by a 1/N that is not a power of two. Binary16 subnormals add up to
        // 2^-25 to each of the 2N - 1 roundings, which N·2^-24 covers.
        let ranks = Float(size)
        let bound = (ranks * compression.unitRoundoff * 1.01 + 0x1p-22) * meanMagnitude
            + ranks * 0x1p-24
        return (average, bound)
    }

    // MARK: broadcast, gather, scalar reductions

    /// Broadcasts from the last rank, so a root other than 0 is exercised: 1,000 floats,
    /// 100,000 bytes into arrays of another length, and a `Data` value.
    func broadcast() {
        let root = size - 1
        let floatCount = 1000
        var floats = [Float](repeating: -1, count: floatCount)
        if rank == root {
            for i in 0..<floatCount { floats[i] = Float(i) * 0.5 + 0.25 }
        }
        floats.withUnsafeMutableBufferPointer { communicator.broadcast($0, root: root) }
        for i in 0..<floatCount where floats[i] != Float(i) * 0.5 + 0.25 {
            communicator.fatal("broadcast floats: index \(i) is \(floats[i]), "
                               + "expected \(Float(i) * 0.5 + 0.25)")
        }

        let expectedBytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var bytes: [UInt8] = rank == root ? expectedBytes : [1, 2, 3]
        communicator.broadcast(bytes: &bytes, root: root)
        if bytes != expectedBytes {
            communicator.fatal("broadcast bytes: received \(bytes.count) bytes that differ "
                               + "from the root's \(expectedBytes.count)")
        }

        let expectedData = Data("katechon broadcast from rank \(root)".utf8)
        var data = rank == root ? expectedData : Data()
        communicator.broadcast(data: &data, root: root)
        if data != expectedData {
            communicator.fatal("broadcast data: received \(String(decoding: data, as: UTF8.self)), "
                               + "expected \(String(decoding: expectedData, as: UTF8.self))")
        }

        print("rank \(rank): broadcast ok from root \(root)")
    }

    /// Rank r sends 3r + 1 floats and r bytes, so rank 0 sends no bytes. Rank 0 checks
    /// every array, and the other ranks check that they received nil.
    func gather() {
        let floats = (0..<(3 * rank + 1)).map { Float(rank * 1000 + $0) }
        let bytes = (0..<rank).map { UInt8(truncatingIfNeeded: rank &* 10 &+ $0) }
        let gatheredFloats = communicator.gatherVariable(floats, root: 0)
        let gatheredBytes = communicator.gatherVariable(bytes: bytes, root: 0)

        guard rank == 0 else {
            if gatheredFloats != nil || gatheredBytes != nil {
                communicator.fatal("gather: a rank other than the root received arrays")
            }
            print("rank \(rank): gather ok (not root)")
            return
        }

        guard let gatheredFloats, let gatheredBytes,
              gatheredFloats.count == size, gatheredBytes.count == size else {
            communicator.fatal("gather: root did not receive \(size) arrays of each kind")
        }
        for source in 0..<size {
            let expectedFloats = (0..<(3 * source + 1)).map { Float(source * 1000 + $0) }
            let expectedBytes = (0..<source).map { UInt8(truncatingIfNeeded: source &* 10 &+ $0) }
            if gatheredFloats[source] != expectedFloats {
                communicator.fatal("gather floats from rank \(source): got "
                                   + "\(gatheredFloats[source].prefix(8))..., expected "
                                   + "\(expectedFloats.prefix(8))...")
            }
            if gatheredBytes[source] != expectedBytes {
                communicator.fatal("gather bytes from rank \(source): got "
                                   + "\(gatheredBytes[source]), expected \(expectedBytes)")
            }
        }
        print("rank 0: gather ok lengths \(gatheredFloats.map(\.count)) \(gatheredBytes.map(\.count))")
    }

    /// Sums Double and Int64 arrays and takes an Int32 maximum raised by the last rank only.
    func reduceScalars() {
        var doubles = [Double(rank) + 0.5, 1e-3]
        communicator.allReduceSum(&doubles)
        let ranks = Double(size)
        let expectedDoubles = [ranks * (ranks - 1) / 2 + 0.5 * ranks, 1e-3 * ranks]
        for i in 0..<2 where abs(doubles[i] - expectedDoubles[i]) > 1e-12 * max(1, expectedDoubles[i]) {
            communicator.fatal("allReduceSum Double index \(i): got \(doubles[i]), "
                               + "expected \(expectedDoubles[i])")
        }

        var integers: [Int64] = [Int64(rank), 1 << 40]
        communicator.allReduceSum(&integers)
        let expectedIntegers: [Int64] = [Int64(size * (size - 1) / 2), Int64(size) << 40]
        if integers != expectedIntegers {
            communicator.fatal("allReduceSum Int64: got \(integers), expected \(expectedIntegers)")
        }

        let flag = communicator.allReduceMax(rank == size - 1 ? 7 : Int32(rank % 2))
        if flag != 7 {
            communicator.fatal("allReduceMax: got \(flag), expected 7")
        }
        print("rank \(rank): reduce-scalars ok")
    }

    // MARK: failures

    /// Creates a GradientReducer whose element count is one larger on the last rank; the
    /// reducer's configuration check must abort the job.
    func mismatchedReducer() {
        let count = 1000 + (rank == size - 1 ? 1 : 0)
        let gradients = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { gradients.deallocate() }
        let reducer = GradientReducer(communicator: communicator, gradients: gradients,
                                      count: count, bucketBytes: 256, compression: .none)
        print("rank \(rank): reducer created with \(reducer.buckets.count) buckets although "
              + "the counts differ")
        reducer.shutdown()
    }

    /// Rank `--rank` calls `fatal` after the others have entered an all-reduce that can
    /// never complete; the job must end with a non-zero status.
    func failOnRank() throws {
        let failing = try options.integer("rank", default: 1)
        communicator.barrier()
        if rank == failing {
            Thread.sleep(forTimeInterval: 0.3)
            communicator.fatal("injected failure on purpose (fail-on-rank \(failing))")
        }
        var buffer = [Float](repeating: 1, count: 16)
        buffer.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
        print("rank \(rank): all-reduce completed although rank \(failing) failed")
    }

    /// Writes this rank's process id to `--pid-dir`/rank-R.pid (through a rename, so a
    /// reader never sees a partial file). Then ranks above 0 wait in an all-reduce while
    /// rank 0 sleeps 120 s before joining, leaving time for a test to kill one rank.
    func sleepInAllReduce() throws {
        let directory = URL(fileURLWithPath: options.string("pid-dir", default: "."))
        let temporary = directory.appendingPathComponent("rank-\(rank).pid.tmp")
        let final = directory.appendingPathComponent("rank-\(rank).pid")
        try Data("\(getpid())\n".utf8).write(to: temporary)
        if rename(temporary.path, final.path) != 0 {
            communicator.fatal("cannot rename \(temporary.path) to \(final.path): "
                               + String(cString: strerror(errno)))
        }
        communicator.barrier()

        if rank == 0 {
            Thread.sleep(forTimeInterval: 120)
        }
        var buffer = [Float](repeating: 1, count: 16)
        buffer.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
        print("rank \(rank): all-reduce completed although no rank was killed")
    }
}
