/// An 8-bit RGB image stored row-major as interleaved `[height, width, 3]` bytes.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `height * width * 3` bytes: R, G, B of pixel (0, 0), then (0, 1), ...
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3,
                     "RGB image \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}
