import CPNG
import CTurboJPEG
import Foundation

/// Decodes JPEG (libjpeg-turbo) and PNG (libpng) bytes to 8-bit RGB.
///
/// PNG grey, grey with alpha, palette, RGBA and 16-bit images all become RGB8. An alpha
/// channel is composited onto black in sRGB values (`c * a / 255`, rounded), so fully
/// transparent pixels are black. 16-bit samples without a gAMA or sRGB chunk are taken
/// as sRGB-encoded and scaled to 8 bits.
public enum ImageDecoder {
    /// Decodes `bytes`, choosing the codec from the signature. `id` names the image
    /// (file path or `isic_id`) in errors.
    public static func decode(_ bytes: [UInt8], id: String) throws -> RGBImage {
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF {
            return try decodeJPEG(bytes, id: id)
        }
        if bytes.count >= 8 && bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return try decodePNG(bytes, id: id)
        }
        let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        throw DataError.undecodableImage(id: id, format: "unknown", reason: "\(bytes.count) bytes starting with [\(head)] are neither JPEG nor PNG")
    }

    /// Decodes a baseline or progressive JPEG. Any libjpeg-turbo warning, such as a
    /// premature end of data in a truncated file, is an error.
    public static func decodeJPEG(_ bytes: [UInt8], id: String) throws -> RGBImage {
        guard let handle = tjInitDecompress() else {
            throw DataError.undecodableImage(id: id, format: "JPEG", reason: "tjInitDecompress failed")
        }
        defer { tjDestroy(handle) }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let headerStatus = bytes.withUnsafeBufferPointer { buffer in
            tjDecompressHeader3(handle, buffer.baseAddress, UInt(buffer.count), &width, &height, &subsampling, &colorspace)
        }
        guard headerStatus == 0, width > 0, height > 0 else {
            throw DataError.undecodableImage(id: id, format: "JPEG", reason: errorText(handle))
        }

        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * 3)
        let status = bytes.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                tjDecompress2(handle, source.baseAddress, UInt(source.count), target.baseAddress,
                              width, 0, height, Int32(TJPF_RGB.rawValue), TJFLAG_STOPONWARNING)
            }
        }
        guard status == 0 else {
            throw DataError.undecodableImage(id: id, format: "JPEG", reason: errorText(handle))
        }
        return RGBImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    /// Encodes an RGB image as a 4:2:0 JPEG of the given quality (1...100).
    public static func encodeJPEG(_ image: RGBImage, quality: Int) throws -> [UInt8] {
        guard let handle = tjInitCompress() else {
            throw DataError.encodingFailed(format: "JPEG", reason: "tjInitCompress failed")
        }
        defer { tjDestroy(handle) }

        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer { source in
            tjCompress2(handle, source.baseAddress, Int32(image.width), 0, Int32(image.height),
                        Int32(TJPF_RGB.rawValue), &output, &size, Int32(TJSAMP_420.rawValue), Int32(quality), 0)
        }
        defer { if let output { tjFree(output) } }
        guard status == 0, let output else {
            throw DataError.encodingFailed(format: "JPEG", reason: errorText(handle))
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }

    /// Decodes a PNG through libpng's simplified API, which reports errors as return
    /// values rather than by `longjmp`.
    public static func decodePNG(_ bytes: [UInt8], id: String) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }

        let began = bytes.withUnsafeBufferPointer { buffer in
            png_image_begin_read_from_memory(&image, buffer.baseAddress, buffer.count)
        }
        guard began != 0 else {
            throw DataError.undecodableImage(id: id, format: "PNG", reason: pngMessage(&image))
        }

        image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)  // PNG_FORMAT_RGBA
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let width = Int(image.width), height = Int(image.height)
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let finished = rgba.withUnsafeMutableBufferPointer { buffer in
            png_image_finish_read(&image, nil, buffer.baseAddress, 0, nil)
        }
        guard finished != 0 else {
            throw DataError.undecodableImage(id: id, format: "PNG", reason: pngMessage(&image))
        }

        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        rgba.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                for p in 0..<(width * height) {
                    let alpha = UInt32(source[4 * p + 3])
                    for c in 0..<3 {
                        target[3 * p + c] = UInt8((UInt32(source[4 * p + c]) * alpha + 127) / 255)
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    private static func errorText(_ handle: tjhandle) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown libjpeg-turbo error" }
        return String(cString: text)
    }

    private static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return "libpng: " + String(decoding: bytes[..<end], as: UTF8.self)
        }
    }
}
