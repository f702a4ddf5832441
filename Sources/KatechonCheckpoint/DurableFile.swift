import Foundation

/// File operations that survive a crash or power loss: fsync of files and folders, and
/// replacement of a file by a rename from a temporary file in the same folder.
enum DurableFile {
    /// The prefix of every temporary file in a checkpoints folder. No checkpoint or `latest`
    /// starts with it, so a temporary file left by a crash is never mistaken for either.
    static let temporaryPrefix = ".tmp-"

    /// Returns a new temporary file URL in `folder` for the final name `name`.
    static func temporaryURL(in folder: URL, for name: String) -> URL {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        return folder.appendingPathComponent("\(temporaryPrefix)\(name)-\(getpid())-\(suffix)")
    }

    /// Renames `source` to `destination` in the same folder and fsyncs the folder, so the
    /// rename itself survives a crash.
    static func rename(_ source: URL, to destination: URL) throws {
        if Glibc.rename(source.path, destination.path) != 0 {
            throw CheckpointError.ioFailed(file: destination,
                                           operation: "rename from \(source.lastPathComponent)",
                                           code: errno)
        }
        try syncFolder(destination.deletingLastPathComponent())
    }

    /// Fsyncs a folder so that renames and deletions in it are durable.
    static func syncFolder(_ folder: URL) throws {
        let descriptor = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor < 0 {
            throw CheckpointError.ioFailed(file: folder, operation: "open folder", code: errno)
        }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 {
            throw CheckpointError.ioFailed(file: folder, operation: "fsync folder", code: errno)
        }
    }

    /// Writes `data` to `url` atomically: temporary file, fsync, rename, fsync of the folder.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        let temporary = temporaryURL(in: folder, for: url.lastPathComponent)
        do {
            try writeAndSync(data, to: temporary)
            try rename(temporary, to: url)
        } catch {
            unlink(temporary.path)
            throw error
        }
    }

    private static func writeAndSync(_ data: Data, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            throw CheckpointError.ioFailed(file: url, operation: "create", code: errno)
        }
        defer { close(descriptor) }
        try data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError.ioFailed(file: url, operation: "write", code: errno)
                }
                offset += written
            }
        }
        if fsync(descriptor) != 0 {
            throw CheckpointError.ioFailed(file: url, operation: "fsync", code: errno)
        }
    }
}
