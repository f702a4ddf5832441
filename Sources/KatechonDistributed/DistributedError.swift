/// Errors raised while setting up the MPI runtime.
///
/// Failures during communication do not appear here: the communicators keep Open MPI's
/// default error handler, `MPI_ERRORS_ARE_FATAL`, so a failed call or a dead peer aborts
/// the whole job instead of returning an error that one rank might handle alone.
public enum DistributedError: Error, CustomStringConvertible {
    /// `MPI_Init_thread` returned the given error code.
    case initializationFailed(code: Int32)

    /// `Communicator.initialize()` was called after MPI had already been initialized or
    /// finalized in this process; MPI can be initialized only once per process.
    case alreadyInitialized

    public var description: String {
        switch self {
        case .initializationFailed(let code):
            return "MPI_Init_thread failed with error code \(code); check that Open MPI "
                + "is installed and, when running as root under mpirun, that "
                + "OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set"
        case .alreadyInitialized:
            return "MPI was already initialized or finalized in this process; create one "
                + "Communicator per process with Communicator.initialize()"
        }
    }
}
