import Foundation

/// Linear warmup, then cosine decay to a floor.
///
/// For a 0-based step s, peak rate η, W warmup steps and S total steps:
///
///     lr(s) = η · (s + 1) / W                                   s < W
///     lr(s) = floor + (η − floor) · ½ (1 + cos(π · p))          s ≥ W, p = (s − W) / (S − W)
///
/// p is clamped to [0, 1], so steps past S stay at the floor. The floor defaults to
/// 1% of the peak, so late steps still move the parameters.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var floor: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, floor: Float? = nil) {
        self.peak = peak
        self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = totalSteps
        self.floor = floor ?? peak * 0.01
    }

    /// Returns the learning rate of 0-based step `step`.
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps {
            return peak * Float(step + 1) / Float(warmupSteps)
        }
        let decaySteps = totalSteps - warmupSteps
        if decaySteps <= 0 { return floor }
        let progress = min(max(Double(step - warmupSteps) / Double(decaySteps), 0), 1)
        let cosine = 0.5 * (1 + cos(Double.pi * progress))
        return floor + (peak - floor) * Float(cosine)
    }
}
