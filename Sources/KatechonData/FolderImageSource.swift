import Foundation

/// Images stored as `<isic_id>.jpg`, `.jpeg` or `.png` files in one folder (not its
/// subfolders). Extensions match case-insensitively.
public final class FolderImageSource: ImageSource, @unchecked Sendable {
    public let folder: URL
    public let ids: [String]
    public var location: String { folder.path }
    private let fileByID: [String: String]

    /// Lists the folder. Two files for one `isic_id` (say `.jpg` and `.png`) are an error.
    public init(folder: URL) throws {
        self.folder = folder
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw DataError.unreadableFile(path: folder.path, reason: error.localizedDescription)
        }
        var files: [String: String] = [:]
        for name in names {
            let url = URL(fileURLWithPath: name)
            guard ["jpg", "jpeg", "png"].contains(url.pathExtension.lowercased()) else { continue }
            let id = url.deletingPathExtension().lastPathComponent
            if let other = files[id] {
                throw DataError.invalidSetting(name: "image folder", value: folder.path,
                                               reason: "isic_id \(id) has two images, \(other) and \(name); keep one")
            }
            files[id] = name
        }
        self.fileByID = files
        self.ids = files.keys.sorted()
    }

    public func contains(_ isicID: String) -> Bool {
        fileByID[isicID] != nil
    }

    /// Returns the file that contains an image, if any.
    public func fileURL(for isicID: String) -> URL? {
        fileByID[isicID].map { folder.appendingPathComponent($0) }
    }

    public func encodedImage(for isicID: String) throws -> [UInt8] {
        guard let url = fileURL(for: isicID) else {
            throw DataError.imageNotFound(isicID: isicID, source: folder.path)
        }
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw DataError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
    }
}
