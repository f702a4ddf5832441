import Foundation

/// Images addressed by `isic_id`. Implementations are safe to call from several threads.
public protocol ImageSource: AnyObject, Sendable {
    /// Every `isic_id` in the source, sorted.
    var ids: [String] { get }
    /// A description of the source (its path) for messages.
    var location: String { get }
    /// Returns whether the source contains an image for `isicID`.
    func contains(_ isicID: String) -> Bool
    /// Returns the encoded bytes of one image, or throws `DataError.imageNotFound`.
    func encodedImage(for isicID: String) throws -> [UInt8]
    /// Returns one image decoded to RGB8.
    func image(for isicID: String) throws -> RGBImage
}

extension ImageSource {
    /// Reads and decodes one image to RGB8. The decoding runs outside any lock that
    /// `encodedImage` takes, so several threads decode in parallel.
    public func image(for isicID: String) throws -> RGBImage {
        try ImageDecoder.decode(encodedImage(for: isicID), id: "\(isicID) in \(location)")
    }
}

/// Opens an HDF5 file (ISIC 2024 layout) or a folder of `<isic_id>.jpg|.jpeg|.png` files.
public func openImageSource(path: String) throws -> ImageSource {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
        throw DataError.unreadableFile(path: path, reason: "no such file or folder; pass an HDF5 file or a folder of images")
    }
    if isFolder.boolValue {
        return try FolderImageSource(folder: URL(fileURLWithPath: path))
    }
    return try HDF5ImageSource(path: path)
}
