import CMPI
import CMPIShim
import Foundation

/// One process's handle on an MPI communicator: its rank, the world size and the
/// collective operations the trainer uses on flat buffers.
///
/// `initialize()` starts MPI and returns the communicator over `MPI_COMM_WORLD`. A
/// program started without `mpirun` is an MPI singleton and gets `size == 1`.
///
/// Error handling: the communicators keep Open MPI's default `MPI_ERRORS_ARE_FATAL`
/// handler and never install `MPI_ERRORS_RETURN`. A failed call, or a peer that died,
/// therefore aborts the whole job instead of leaving the surviving ranks waiting in a
/// collective. Errors found by Katechon itself go through `fatal(_:)`, which prints the
/// message tagged with the rank and calls `MPI_Abort`.
///
/// Threads: the communicator requests `MPI_THREAD_MULTIPLE`. When the library provides
/// only `MPI_THREAD_SERIALIZED` or less, every call made through a `Communicator` (and
/// through its duplicates) takes one process-wide lock instead. Every rank must make the
/// collective calls on one communicator in the same order. Two threads must therefore
/// never issue collectives on the same communicator concurrently, which is why
/// `GradientReducer` uses a duplicate.
public final class Communicator: @unchecked Sendable {
    /// Thread support levels of `MPI_Init_thread`, in increasing order.
    public enum ThreadLevel: Int, Comparable, CustomStringConvertible, Sendable {
        case single = 0, funneled, serialized, multiple

        public static func < (lhs: ThreadLevel, rhs: ThreadLevel) -> Bool {
            lhs.rawValue < rhs.rawValue
        }

        /// The MPI constant for this level.
        var mpiValue: Int32 {
            switch self {
            case .single: return katechon_mpi_thread_single()
            case .funneled: return katechon_mpi_thread_funneled()
            case .serialized: return katechon_mpi_thread_serialized()
            case .multiple: return katechon_mpi_thread_multiple()
            }
        }

        public var description: String {
            switch self {
            case .single: return "MPI_THREAD_SINGLE"
            case .funneled: return "MPI_THREAD_FUNNELED"
            case .serialized: return "MPI_THREAD_SERIALIZED"
            case .multiple: return "MPI_THREAD_MULTIPLE"
            }
        }
    }

    /// This process's rank in the communicator, in `0..<size`.
    public let rank: Int
    /// Number of ranks in the communicator.
    public let size: Int
    /// Rank among the processes of this communicator that share this node's memory.
    public let localRank: Int
    /// Number of processes of this communicator on this node.
    public let localSize: Int
    /// Thread support level that `MPI_Init_thread` provided.
    public let threadLevel: ThreadLevel

    /// Whether this is rank 0, the rank that logs and writes checkpoints.
    public var isRoot: Bool { rank == 0 }

    let handle: MPI_Comm

    /// Lock taken around every MPI call when the library is not `MPI_THREAD_MULTIPLE`;
    /// shared with every communicator duplicated from this one.
    private let callLock: NSLock?

    /// Largest element count passed to one MPI call; bigger buffers go in several calls
    /// because MPI counts are 32-bit `int`.
    private static let maxElementsPerCall = 1 << 30

    private static let initializationLock = NSLock()
    nonisolated(unsafe) private static var initializationAttempted = false

    private init(handle: MPI_Comm, threadLevel: ThreadLevel, callLock: NSLock?) {
        self.handle = handle
        self.threadLevel = threadLevel
        self.callLock = callLock
        callLock?.lock()
        defer { callLock?.unlock() }

        var rankValue: Int32 = 0
        var sizeValue: Int32 = 0
        MPI_Comm_rank(handle, &rankValue)
        MPI_Comm_size(handle, &sizeValue)
        rank = Int(rankValue)
        size = Int(sizeValue)

        // Ranks that share memory with this one form the node-local communicator.
        var local: MPI_Comm? = nil
        MPI_Comm_split_type(handle, katechon_mpi_comm_type_shared(), rankValue,
                            katechon_mpi_info_null(), &local)
        var localRankValue: Int32 = 0
        var localSizeValue: Int32 = 1
        if let node = local {
            MPI_Comm_rank(node, &localRankValue)
            MPI_Comm_size(node, &localSizeValue)
            MPI_Comm_free(&local)
        }
        localRank = Int(localRankValue)
        localSize = Int(localSizeValue)
    }

    /// Initializes MPI and returns the communicator over `MPI_COMM_WORLD`.
    ///
    /// Call it once per process, before any other MPI use. When the library provides a
    /// lower thread level than `requested`, `threadLevel` reports which, and calls are
    /// serialized by a lock. A level below `.multiple` is worth requesting only to test
    /// those fallbacks.
    public static func initialize(requesting requested: ThreadLevel = .multiple) throws
        -> Communicator
    {
        initializationLock.lock()
        defer { initializationLock.unlock() }

        var initialized: Int32 = 0
        var finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        if initializationAttempted || initialized != 0 || finalized != 0 {
            throw DistributedError.alreadyInitialized
        }
        initializationAttempted = true

        var provided: Int32 = 0
        let code = MPI_Init_thread(nil, nil, requested.mpiValue, &provided)
        guard code == katechon_mpi_success() else {
            throw DistributedError.initializationFailed(code: code)
        }

        let levels: [ThreadLevel] = [.multiple, .serialized, .funneled, .single]
        let level = levels.first { $0.mpiValue == provided } ?? .single
        let lock: NSLock? = level == .multiple ? nil : NSLock()
        return Communicator(handle: katechon_mpi_comm_world(), threadLevel: level, callLock: lock)
    }

    /// Returns a new communicator over the same ranks (`MPI_Comm_dup`), whose collective
    /// calls are ordered independently of this one's. Collective: every rank must call it.
    ///
    /// NOTE: the duplicate is never freed; `MPI_Finalize` releases it. Create duplicates
    /// once per run, not per step.
    public func duplicate() -> Communicator {
        var copy: MPI_Comm? = nil
        serialized { check(MPI_Comm_dup(handle, &copy), "MPI_Comm_dup") }
        guard let copy else { fatal("MPI_Comm_dup returned no communicator") }
        return Communicator(handle: copy, threadLevel: threadLevel, callLock: callLock)
    }

    // MARK: Collectives

    /// Copies `buffer` from rank `root` to every other rank. Every rank must pass a buffer
    /// of the same length.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
        guard size > 1, let base = buffer.baseAddress else { return }
        forEachChunk(of: buffer.count) { offset, count in
            check(MPI_Bcast(base + offset, count, katechon_mpi_float(), Int32(root), handle),
                  "MPI_Bcast")
        }
    }

    /// Copies `bytes` from rank `root` to every other rank. The length travels first, so
    /// the other ranks may pass any array, which is replaced.
    public func broadcast(bytes: inout [UInt8], root: Int) {
        guard size > 1 else { return }

        var length = Int64(bytes.count)
        serialized {
            check(MPI_Bcast(&length, 1, katechon_mpi_int64(), Int32(root), handle), "MPI_Bcast")
        }
        if rank != root {
            bytes = [UInt8](repeating: 0, count: Int(length))
        }

        bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            forEachChunk(of: buffer.count) { offset, count in
                check(MPI_Bcast(base + offset, count, katechon_mpi_uint8(), Int32(root), handle),
                      "MPI_Bcast")
            }
        }
    }

    /// Copies `data` from rank `root` to every other rank, length first.
    public func broadcast(data: inout Data, root: Int) {
        guard size > 1 else { return }
        var bytes = rank == root ? [UInt8](data) : []
        broadcast(bytes: &bytes, root: root)
        if rank != root {
            data = Data(bytes)
        }
    }

    /// Replaces every element of `buffer` by its sum over all ranks.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard size > 1, let base = buffer.baseAddress else { return }
        allReduceInPlace(base, count: buffer.count, datatype: katechon_mpi_float(),
                         operation: katechon_mpi_sum())
    }

    /// Replaces every element of `values` by its sum over all ranks.
    public func allReduceSum(_ values: inout [Double]) {
        guard size > 1 else { return }
        values.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            allReduceInPlace(base, count: buffer.count, datatype: katechon_mpi_double(),
                             operation: katechon_mpi_sum())
        }
    }

    /// Replaces every element of `values` by its sum over all ranks.
    public func allReduceSum(_ values: inout [Int64]) {
        guard size > 1 else { return }
        values.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            allReduceInPlace(base, count: buffer.count, datatype: katechon_mpi_int64(),
                             operation: katechon_mpi_sum())
        }
    }

    /// Returns the maximum of `value` over all ranks, for flags such as "stop after this
    /// step" that any one rank may raise.
    public func allReduceMax(_ value: Int32) -> Int32 {
        guard size > 1 else { return value }
        var result = value
        allReduceInPlace(&result, count: 1, datatype: katechon_mpi_int(),
                         operation: katechon_mpi_max())
        return result
    }

    /// Replaces every element of `values` by its maximum over all ranks.
    func allReduceMax(_ values: inout [Int64]) {
        guard size > 1 else { return }
        values.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            allReduceInPlace(base, count: buffer.count, datatype: katechon_mpi_int64(),
                             operation: katechon_mpi_max())
        }
    }

    /// Collects every rank's `values`, which may differ in length, on rank `root`.
    /// Returns the arrays in rank order on `root` and nil on the other ranks.
    public func gatherVariable(_ values: [Float], root: Int) -> [[Float]]? {
        gatherVariableRaw(values, root: root, datatype: katechon_mpi_float())
    }

    /// Collects every rank's `bytes`, which may differ in length, on rank `root`.
    /// Returns the arrays in rank order on `root` and nil on the other ranks.
    public func gatherVariable(bytes: [UInt8], root: Int) -> [[UInt8]]? {
        gatherVariableRaw(bytes, root: root, datatype: katechon_mpi_uint8())
    }

    /// Waits until every rank has called `barrier()`.
    public func barrier() {
        guard size > 1 else { return }
        serialized { check(MPI_Barrier(handle), "MPI_Barrier") }
    }

    // MARK: Ending the job

    /// Ends every rank of `MPI_COMM_WORLD` with exit status `code` (`MPI_Abort`).
    ///
    /// It does not take the call lock, so a thread may abort while another thread waits
    /// in a collective.
    public func abort(code: Int32) -> Never {
        fflush(stdout)
        fflush(stderr)
        MPI_Abort(katechon_mpi_comm_world(), code)
        exit(code)
    }

    /// Prints `rank R: message` to standard error and aborts the whole job with exit
    /// status `code`, so one rank's error never leaves the others waiting.
    public func fatal(_ message: String, code: Int32 = 1) -> Never {
        precondition(code != 0, "fatal needs a non-zero exit status")
        FileHandle.standardError.write(Data("rank \(rank): \(message)\n".utf8))
        abort(code: code)
    }

    /// Shuts MPI down (`MPI_Finalize`). Collective over `MPI_COMM_WORLD`: call it once, on
    /// every rank, after the last MPI call and after stopping every `GradientReducer`.
    public func finalize() {
        serialized { check(MPI_Finalize(), "MPI_Finalize") }
    }

    // MARK: Helpers

    /// Sums or maximises `count` elements at `base` in place over all ranks.
    func allReduceInPlace(_ base: UnsafeMutableRawPointer, count: Int, datatype: MPI_Datatype,
                          operation: MPI_Op) {
        var elementSize: Int32 = 0
        MPI_Type_size(datatype, &elementSize)
        forEachChunk(of: count) { offset, chunk in
            let start = base + offset * Int(elementSize)
            check(MPI_Allreduce(katechon_mpi_in_place(), start, chunk, datatype, operation, handle),
                  "MPI_Allreduce")
        }
    }

    /// Runs `body` while holding the call lock, if there is one.
    func serialized<T>(_ body: () throws -> T) rethrows -> T {
        callLock?.lock()
        defer { callLock?.unlock() }
        return try body()
    }

    /// Calls `body(offset, count)` for consecutive slices of `0..<total` short enough for
    /// a 32-bit MPI count, each under the call lock.
    private func forEachChunk(of total: Int, _ body: (Int, Int32) -> Void) {
        var offset = 0
        while offset < total {
            let count = min(total - offset, Communicator.maxElementsPerCall)
            serialized { body(offset, Int32(count)) }
            offset += count
        }
    }

    /// Aborts the job when an MPI call returned an error. With `MPI_ERRORS_ARE_FATAL` the
    /// library aborts first, so this fires only if someone installed another handler.
    func check(_ code: Int32, _ call: String) {
        if code != katechon_mpi_success() {
            fatal("\(call) failed with MPI error code \(code)")
        }
    }

    /// Gathers arrays of any lengths on `root`: first every count (`MPI_Gather`), then the
    /// values into one buffer at running offsets (`MPI_Gatherv`).
    private func gatherVariableRaw<Element>(_ values: [Element], root: Int,
                                            datatype: MPI_Datatype) -> [[Element]]? {
        if size == 1 { return [values] }
        if values.count > Int(Int32.max) {
            fatal("gatherVariable got \(values.count) values, more than one MPI call can "
                  + "send (\(Int32.max)); gather in several calls")
        }

        var sendCount = Int32(values.count)
        var counts = [Int32](repeating: 0, count: rank == root ? size : 0)
        counts.withUnsafeMutableBufferPointer { countBuffer in
            serialized {
                check(MPI_Gather(&sendCount, 1, katechon_mpi_int(), countBuffer.baseAddress, 1,
                                 katechon_mpi_int(), Int32(root), handle), "MPI_Gather")
            }
        }

        var displacements = [Int32](repeating: 0, count: counts.count)
        var total = 0
        for (index, count) in counts.enumerated() {
            displacements[index] = Int32(clamping: total)
            total += Int(count)
        }
        if total > Int(Int32.max) {
            fatal("gatherVariable would collect \(total) values on rank \(root), more than "
                  + "one MPI call can receive (\(Int32.max)); gather in several calls")
        }

        let gathered: [Element] = values.withUnsafeBufferPointer { sendBuffer in
            [Element](unsafeUninitializedCapacity: total) { receiveBuffer, initialized in
                serialized {
                    check(MPI_Gatherv(sendBuffer.baseAddress, sendCount, datatype,
                                      receiveBuffer.baseAddress, counts, displacements, datatype,
                                      Int32(root), handle), "MPI_Gatherv")
                }
                initialized = total
            }
        }
        guard rank == root else { return nil }

        return counts.indices.map { index in
            let start = Int(displacements[index])
            return Array(gathered[start..<(start + Int(counts[index]))])
        }
    }
}
