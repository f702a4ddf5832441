import Foundation

/// Shows training progress from rank 0: a bar redrawn in place on a terminal, plain
/// lines otherwise (log files, Slurm output). Other ranks never print progress.
public final class ProgressReporter {
    private let enabled: Bool
    private let isTerminal: Bool
    private var lastLineLength = 0

    public init(enabled: Bool) {
        self.enabled = enabled
        self.isTerminal = isatty(STDERR_FILENO) != 0
    }

    /// Reports one training step. The bar shows epoch, step, images/s, loss and ETA.
    ///
    /// On a terminal the bar is redrawn in place, and `forceLine` ends it with a line
    /// break at the end of an epoch. Elsewhere every call prints one line.
    public func step(epoch: Int, step: Int, totalSteps: Int, imagesPerSecond: Double,
                     loss: Double, secondsLeft: Double, extra: String, forceLine: Bool) {
        guard enabled else { return }
        let fraction = totalSteps > 0 ? Double(step) / Double(totalSteps) : 1
        let eta = Self.formatDuration(secondsLeft)
        let text = String(format: "epoch %d step %d/%d %.1f img/s loss %.4f eta %@%@",
                          epoch, step, totalSteps, imagesPerSecond, loss, eta,
                          extra.isEmpty ? "" : " " + extra)
        if isTerminal {
            let width = 24
            let filled = Int(fraction * Double(width))
            let bar = "[" + String(repeating: "#", count: filled)
                + String(repeating: ".", count: width - filled) + "] "
            let line = bar + text
            let padding = String(repeating: " ", count: max(0, lastLineLength - line.count))
            FileHandle.standardError.write(Data(("\r" + line + padding).utf8))
            lastLineLength = line.count
            if forceLine || step == totalSteps { finishLine() }
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// Prints a message on its own line, ending a bar in progress first.
    public func message(_ text: String) {
        guard enabled else { return }
        finishLine()
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    private func finishLine() {
        if isTerminal && lastLineLength > 0 {
            FileHandle.standardError.write(Data("\n".utf8))
            lastLineLength = 0
        }
    }

    static func formatDuration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let total = Int(seconds.rounded())
        if total >= 3600 {
            return String(format: "%d:%02d:%02d", total / 3600, (total / 60) % 60, total % 60)
        }
        return String(format: "%02d:%02d", total / 60, total % 60)
    }
}
