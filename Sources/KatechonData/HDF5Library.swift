import CHDF5
import Foundation

/// The process-wide guard of libhdf5. The serial build of HDF5 is not thread-safe, so
/// every HDF5 call in Katechon runs inside `HDF5Library.locked`.
enum HDF5Library {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var initialised = false

    /// Runs `body` holding the HDF5 lock, after initialising the library once and
    /// turning off its printing of error stacks (errors are reported as Swift errors).
    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        if !initialised {
            H5open()
            katechon_h5_silence_errors()
            initialised = true
        }
        return try body()
    }

    /// Returns the innermost message of the current HDF5 error stack.
    static func lastErrorMessage() -> String {
        var message = ""
        let walker: H5E_walk2_t = { _, error, context in
            guard let error, let context, let text = error.pointee.desc else { return 0 }
            let box = context.assumingMemoryBound(to: String.self)
            // The walk starts at the innermost error, the most specific one; keep it.
            let description = String(cString: text)
            if box.pointee.isEmpty { box.pointee = description }
            return 0
        }
        withUnsafeMutablePointer(to: &message) { pointer in
            _ = H5Ewalk2(katechon_h5e_default(), H5E_WALK_UPWARD, walker, pointer)
        }
        return message.isEmpty ? "no detail from HDF5" : message
    }
}
