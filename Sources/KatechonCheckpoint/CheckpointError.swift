import Foundation

/// A checkpoint that cannot be read, resolved or written, with the file and the reason.
///
/// Every case names the file involved, so `"\(error)"` is a complete message for a log or
/// for stderr.
public enum CheckpointError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The file is not a `.kcpt` checkpoint: not a zstd stream, or one that does not start
    /// with the checkpoint magic.
    case notACheckpoint(file: URL, reason: String)
    /// The file is a checkpoint of a format version this build cannot read.
    case unsupportedVersion(file: URL, found: UInt32, supported: UInt32)
    /// The file ends before its last byte was written, as after a crash or a partial copy.
    case truncated(file: URL, reason: String)
    /// A byte of the file differs from what was written: a zstd error, a checksum mismatch
    /// or a malformed checksum frame.
    case corrupted(file: URL, reason: String)
    /// The checksums match but the header, the tensor table or the end marker contradict
    /// each other.
    case inconsistentTable(file: URL, reason: String)
    /// The model expects a tensor that the checkpoint does not contain.
    case missingTensor(file: URL, name: String)
    /// The checkpoint contains a tensor that the model does not expect.
    case unexpectedTensor(file: URL, name: String)
    /// A tensor's shape in the checkpoint differs from the model's.
    case shapeMismatch(file: URL, name: String, found: [Int], expected: [Int])
    /// `latest` names a checkpoint file that does not exist.
    case latestTargetMissing(latest: URL, target: URL)
    /// `latest` does not contain a checkpoint file name.
    case invalidLatest(latest: URL, contents: String)
    /// A checkpoint file given by path does not exist.
    case fileNotFound(file: URL)
    /// A system call on the file failed.
    case ioFailed(file: URL, operation: String, code: Int32)
    /// zstd failed to compress, with its error name.
    case compressionFailed(file: URL, reason: String)
    /// A retention count below 1.
    case invalidKeep(Int)
    /// A negative training step.
    case invalidStep(Int)

    public var description: String {
        switch self {
        case let .notACheckpoint(file, reason):
            return "\(file.path) is not a Katechon checkpoint (.kcpt): \(reason). "
                + "Pass a file written by `katechon-dist train`."
        case let .unsupportedVersion(file, found, supported):
            return "checkpoint \(file.path) has format version \(found), but this build reads "
                + "only version \(supported). Use the katechon-dist build that wrote it."
        case let .truncated(file, reason):
            return "checkpoint \(file.path) is truncated: \(reason). The write or copy did not "
                + "finish. Resume from an earlier checkpoint or copy the file again."
        case let .corrupted(file, reason):
            return "checkpoint \(file.path) is corrupted: \(reason). Resume from an earlier "
                + "checkpoint or copy the file again."
        case let .inconsistentTable(file, reason):
            return "checkpoint \(file.path) has an inconsistent tensor table: \(reason). "
                + "The file was not written by a compatible katechon-dist."
        case let .missingTensor(file, name):
            return "checkpoint \(file.path) is incompatible with the model: tensor \(name) is "
                + "missing. Check that --backbone, --fusion and the metadata columns match the "
                + "run that wrote it."
        case let .unexpectedTensor(file, name):
            return "checkpoint \(file.path) is incompatible with the model: it contains tensor "
                + "\(name), which the model does not have. Check that --backbone, --fusion and "
                + "the metadata columns match the run that wrote it."
        case let .shapeMismatch(file, name, found, expected):
            return "checkpoint \(file.path) is incompatible with the model: tensor \(name) has "
                + "shape \(found) in the checkpoint but \(expected) in the model. Check that "
                + "--backbone, --image-size and the metadata columns match the run that wrote it."
        case let .latestTargetMissing(latest, target):
            return "\(latest.path) names \(target.lastPathComponent), but \(target.path) does "
                + "not exist. Pass --resume FILE with an existing checkpoint."
        case let .invalidLatest(latest, contents):
            return "\(latest.path) contains \"\(contents)\", which is not a checkpoint file name "
                + "such as step-00000100.kcpt. Fix the file or pass --resume FILE."
        case let .fileNotFound(file):
            return "checkpoint \(file.path) not found; check the path"
        case let .ioFailed(file, operation, code):
            return "\(operation) failed for \(file.path): \(String(cString: strerror(code))) "
                + "(errno \(code))."
        case let .compressionFailed(file, reason):
            return "compressing checkpoint \(file.path) failed: \(reason). Check free memory, then save again."
        case let .invalidKeep(count):
            return "--keep \(count) is invalid: keep at least 1 checkpoint, or omit --keep to "
                + "keep all of them."
        case let .invalidStep(step):
            return "checkpoint step \(step) is invalid: steps start at 0."
        }
    }

    public var errorDescription: String? { description }
}
