import Foundation

/// The contents of a `.kcpt` checkpoint: the trainer's manifest and every tensor.
public struct Checkpoint: Sendable, Equatable {
    /// UTF-8 JSON that the trainer writes and reads. This target stores it as opaque bytes.
    public var manifest: Data
    /// The tensors in the order they were written.
    public var tensors: [NamedTensor]
    /// The file this checkpoint was read from, so errors found later can name it.
    public var file: URL?

    public init(manifest: Data, tensors: [NamedTensor], file: URL? = nil) {
        self.manifest = manifest
        self.tensors = tensors
        self.file = file
    }

    /// Returns the tensor with the given name, or nil.
    public func tensor(named name: String) -> NamedTensor? {
        tensors.first { $0.name == name }
    }
}
