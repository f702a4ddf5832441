import CMPI
import CMPIShim
import Dispatch
import Foundation

/// Averages a flat gradient buffer over all ranks in buckets, overlapping the all-reduce
/// with backward, in the manner of PyTorch DDP's reducer.
///
/// The buffer `[0, count)` is cut into consecutive buckets of `bucketBytes / 4` floats
/// (the last one shorter). Backward writes gradients in increasing offset order, and the
/// trainer calls `markReady(upTo:)` as it goes. A dedicated communication thread
/// all-reduces each bucket as soon as its last gradient is ready, while backward goes on
/// producing the next ones. `finish()` marks the rest ready, waits for every bucket, and
/// leaves the buffer holding the average over ranks.
///
/// One step looks like:
///
///     for layer in layersInReverseForwardOrder {
///         layer.backward(...)                       // writes gradients below `end`
///         reducer.markReady(upTo: layer.gradientEnd)
///     }
///     reducer.finish()                              // gradients are now averaged
///
/// Invariants that keep ranks in step, each enforced where noted:
/// - Every rank has the same buckets: the partition depends only on `count` and
///   `bucketBytes`, and `init` aborts the job if any rank passed different values
///   (`checkSameConfiguration`).
/// - Buckets are reduced in index order on every rank: the communication thread takes
///   bucket `reducedBuckets` next and nothing else (`communicationLoop`).
/// - Every bucket is reduced exactly once per step: `markReady` only moves forward within
///   a step (a precondition), and `finish()` waits for all buckets before it starts the
///   next step (`finish`).
///
/// With `MPI_THREAD_MULTIPLE` the caller may use its own communicator during a step,
/// because the reducer's duplicated communicator keeps the two sequences of collectives
/// apart. Under the serialized fallback the caller must make no collective call between
/// the first `markReady` of a step and `finish()`. Such a call could hold the call lock
/// while a peer rank waits for this rank's next bucket, and the job would hang.
///
/// NOTE: replicas stay bitwise identical only if `MPI_Allreduce` returns the same bits on
/// every rank. The MPI standard recommends this but does not require it. With Open MPI
/// 4.1.4 on 2 to 4 ranks of one node, the probe's hash check found no difference.
///
/// With one rank nothing travels and the buffer is left as it is. When MPI provides less
/// than `MPI_THREAD_SERIALIZED`, no second thread may call MPI, so buckets are reduced
/// synchronously inside `markReady` and nothing overlaps.
public final class GradientReducer: @unchecked Sendable {
    /// Flat offset ranges of the buckets, in the order they are reduced.
    public let buckets: [Range<Int>]
    /// Number of floats in the gradient buffer.
    public let count: Int
    /// Transport format of the all-reduce.
    public let compression: GradientCompression

    private let communicator: Communicator?
    private let worldSize: Int
    private let gradients: UnsafeMutablePointer<Float>
    private let usesCommunicationThread: Bool

    /// Bucket-sized 16-bit buffer for compressed buckets; used by one thread at a time.
    private let staging: UnsafeMutablePointer<UInt16>?
    private let stagingCapacity: Int
    private let sumOperation: MPI_Op?

    // Step state, guarded by `condition`. Buckets [0, launchedBuckets) have been handed to
    // the communication thread and [0, reducedBuckets) are averaged.
    private let condition = NSCondition()
    private var readyOffset = 0
    private var launchedBuckets = 0
    private var reducedBuckets = 0
    private var stopRequested = false
    private var threadRunning = false
    private var exposedNanoseconds: UInt64 = 0
    private var busyNanoseconds: UInt64 = 0

    /// Creates the reducer and, with more than one rank, its communication thread.
    /// Collective: every rank must call it with the same `count`, `bucketBytes` and
    /// `compression`.
    ///
    /// - Parameters:
    ///   - communicator: ranks to average over; the reducer duplicates it.
    ///   - gradients: the flat gradient buffer, which must stay allocated as long as the
    ///     reducer lives.
    ///   - count: number of floats in `gradients`.
    ///   - bucketBytes: target bucket size in bytes of 32-bit floats, whatever the
    ///     compression (a 25 MiB bucket contains 6,553,600 floats).
    ///   - compression: transport format; see `GradientCompression` for the error bound.
    public init(communicator: Communicator, gradients: UnsafeMutablePointer<Float>, count: Int,
                bucketBytes: Int, compression: GradientCompression) {
        precondition(count >= 0, "gradient count must not be negative, got \(count)")
        precondition(bucketBytes > 0, "bucket size must be positive, got \(bucketBytes) bytes")

        self.buckets = GradientReducer.bucketRanges(count: count, bucketBytes: bucketBytes)
        self.count = count
        self.compression = compression
        self.gradients = gradients
        self.worldSize = communicator.size

        guard communicator.size > 1 else {
            self.communicator = nil
            self.usesCommunicationThread = false
            self.staging = nil
            self.stagingCapacity = 0
            self.sumOperation = nil
            return
        }

        let reducerCommunicator = communicator.duplicate()
        self.communicator = reducerCommunicator
        self.usesCommunicationThread = communicator.threadLevel >= .serialized

        let largestBucket = buckets.map(\.count).max() ?? 0
        if compression == .none {
            self.staging = nil
            self.stagingCapacity = 0
            self.sumOperation = nil
        } else {
            self.staging = .allocate(capacity: largestBucket)
            self.stagingCapacity = largestBucket
            var operation: MPI_Op? = nil
            let code = reducerCommunicator.serialized {
                compression == .fp16
                    ? katechon_mpi_op_create_fp16_sum(&operation)
                    : katechon_mpi_op_create_bf16_sum(&operation)
            }
            reducerCommunicator.check(code, "MPI_Op_create")
            self.sumOperation = operation
        }

        checkSameConfiguration(bucketBytes: bucketBytes)

        if usesCommunicationThread {
            threadRunning = true
            let thread = Thread { [self] in communicationLoop() }
            thread.name = "katechon-gradient-reducer"
            thread.start()
        }
    }

    deinit {
        staging?.deallocate()
    }

    /// Cuts `[0, count)` into consecutive ranges of `max(1, bucketBytes / 4)` elements, the
    /// last one shorter. The result depends on nothing else, so it is the same on every
    /// rank given the same arguments.
    public static func bucketRanges(count: Int, bucketBytes: Int) -> [Range<Int>] {
        let elementsPerBucket = max(1, bucketBytes / MemoryLayout<Float>.size)
        return stride(from: 0, to: count, by: elementsPerBucket).map { start in
            start..<min(start + elementsPerBucket, count)
        }
    }

    // MARK: One step

    /// Declares that backward has written every gradient below `offset`, so that each
    /// bucket ending at or before it can be reduced now. Offsets must not decrease within
    /// a step.
    public func markReady(upTo offset: Int) {
        precondition(offset <= count, "markReady offset \(offset) is past the buffer end \(count)")
        condition.lock()
        precondition(offset >= readyOffset,
                     "markReady offset \(offset) is below the previous one, \(readyOffset); "
                     + "backward must produce gradients in increasing offset order")
        readyOffset = offset

        var launch = launchedBuckets
        while launch < buckets.count && buckets[launch].upperBound <= offset {
            launch += 1
        }
        let firstNew = launchedBuckets
        launchedBuckets = launch
        condition.signal()
        condition.unlock()

        if communicator != nil && !usesCommunicationThread {
            reduceSynchronously(firstNew..<launch)
        }
    }

    /// Marks every gradient ready, waits until all buckets are averaged, and starts a new
    /// step. The time spent waiting here counts as exposed communication.
    public func finish() {
        let start = DispatchTime.now().uptimeNanoseconds
        markReady(upTo: count)

        condition.lock()
        while reducedBuckets < buckets.count && communicator != nil {
            condition.wait()
        }

        // Every bucket of this step has been reduced exactly once. Only now may the
        // counters go back to zero for the next step.
        readyOffset = 0
        launchedBuckets = 0
        reducedBuckets = 0
        exposedNanoseconds += DispatchTime.now().uptimeNanoseconds - start
        condition.unlock()
    }

    /// Number of buckets of the current step already averaged; `finish()` resets it.
    public var reducedBucketCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return reducedBuckets
    }

    // MARK: Timing

    /// Total seconds the calling thread spent inside `finish()`, waiting for buckets that
    /// were still travelling when backward ended.
    public var exposedCommunicationSeconds: Double {
        condition.lock()
        defer { condition.unlock() }
        return Double(exposedNanoseconds) * 1e-9
    }

    /// Total seconds spent reducing buckets, including compression, whether or not they
    /// overlapped backward.
    public var communicationBusySeconds: Double {
        condition.lock()
        defer { condition.unlock() }
        return Double(busyNanoseconds) * 1e-9
    }

    /// Sets both timing totals back to zero.
    public func resetTimings() {
        condition.lock()
        exposedNanoseconds = 0
        busyNanoseconds = 0
        condition.unlock()
    }

    /// Stops the communication thread once the buckets already launched are reduced, and
    /// waits for it to exit. Call it on every rank before `Communicator.finalize()`; the
    /// reducer cannot be used afterwards.
    public func shutdown() {
        condition.lock()
        stopRequested = true
        condition.broadcast()
        while threadRunning {
            condition.wait()
        }
        condition.unlock()
    }

    // MARK: Communication

    /// Body of the communication thread: reduce launched buckets one at a time, in index
    /// order, until `shutdown()`.
    private func communicationLoop() {
        condition.lock()
        while true {
            while reducedBuckets == launchedBuckets && !stopRequested {
                condition.wait()
            }
            if reducedBuckets == launchedBuckets {
                break
            }

            // The next bucket is always the lowest one not yet reduced, so every rank
            // issues the same sequence of all-reduces on the reducer's communicator.
            let index = reducedBuckets
            condition.unlock()

            let start = DispatchTime.now().uptimeNanoseconds
            reduceBucket(index)
            let elapsed = DispatchTime.now().uptimeNanoseconds - start

            condition.lock()
            reducedBuckets += 1
            busyNanoseconds += elapsed
            condition.broadcast()
        }
        threadRunning = false
        condition.broadcast()
        condition.unlock()
    }

    /// Reduces buckets on the calling thread, for MPI libraries without thread support.
    private func reduceSynchronously(_ indices: Range<Int>) {
        for index in indices {
            let start = DispatchTime.now().uptimeNanoseconds
            reduceBucket(index)
            let elapsed = DispatchTime.now().uptimeNanoseconds - start

            condition.lock()
            reducedBuckets += 1
            busyNanoseconds += elapsed
            condition.unlock()
        }
    }

    /// Replaces bucket `index` of the gradient buffer by its average over all ranks.
    private func reduceBucket(_ index: Int) {
        guard let communicator else { return }
        let range = buckets[index]
        let base = gradients + range.lowerBound
        let length = range.count

        switch compression {
        case .none:
            communicator.allReduceInPlace(base, count: length, datatype: katechon_mpi_float(),
                                          operation: katechon_mpi_sum())
            let divisor = Float(worldSize)
            for i in 0..<length {
                base[i] /= divisor
            }

        case .fp16, .bf16:
            guard let staging, let sumOperation, length <= stagingCapacity else {
                preconditionFailure("compressed bucket \(index) has no staging buffer")
            }
            let wire = UnsafeMutableBufferPointer(start: staging, count: length)
            compression.encode(UnsafeBufferPointer(start: base, count: length),
                               scale: 1 / Float(worldSize), into: wire)
            communicator.allReduceInPlace(staging, count: length,
                                          datatype: katechon_mpi_uint16(), operation: sumOperation)
            compression.decode(UnsafeBufferPointer(wire),
                               into: UnsafeMutableBufferPointer(start: base, count: length))
        }
    }

    /// Aborts the job unless every rank created its reducer with the same element count,
    /// bucket size and compression, because different buckets would pair up unrelated
    /// all-reduces across ranks.
    private func checkSameConfiguration(bucketBytes: Int) {
        guard let communicator else { return }
        let compressionCode: Int64 = compression == .none ? 0 : (compression == .fp16 ? 1 : 2)
        let local: [Int64] = [Int64(count), Int64(bucketBytes), compressionCode]

        // The maximum of x and of -x over ranks give the maximum and minimum of x.
        var extremes = local + local.map { -$0 }
        communicator.allReduceMax(&extremes)
        let same = (0..<local.count).allSatisfy { i in
            extremes[i] == -extremes[i + local.count]
        }
        if !same {
            communicator.fatal(
                "GradientReducer configuration differs between ranks: this rank has "
                + "count \(count), bucketBytes \(bucketBytes), compression \(compression); "
                + "maxima over ranks \(Array(extremes[0..<3])), minima "
                + "\(extremes[3...].map { -$0 }); every rank must build the same model "
                + "with the same --bucket-mb and --grad-compression")
        }
    }
}
