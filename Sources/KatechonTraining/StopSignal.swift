import Foundation

/// Records SIGTERM and SIGUSR1 (batch-system preemption) so training can stop at the next
/// step boundary instead of dying mid-step.
///
/// The handler only sets a flag, which is async-signal-safe. The trainer polls it once
/// per step and agrees with the other ranks through an all-reduce before stopping.
public enum StopSignal {
    nonisolated(unsafe) private static var received: sig_atomic_t = 0
    nonisolated(unsafe) private static var signalNumber: sig_atomic_t = 0

    /// Installs the handlers for SIGTERM and SIGUSR1.
    public static func install() {
        for signalValue in [SIGTERM, SIGUSR1] {
            signal(signalValue) { number in
                StopSignal.signalNumber = number
                StopSignal.received = 1
            }
        }
    }

    /// Whether a stop signal has arrived since `install`.
    public static var isRequested: Bool { received != 0 }

    /// The name of the signal that arrived, for the log.
    public static var name: String {
        switch signalNumber {
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        default: return "signal \(signalNumber)"
        }
    }
}
