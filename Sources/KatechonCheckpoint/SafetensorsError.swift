/// A safetensors file that cannot be read or written, with the file and (when known)
/// the tensor it concerns.
public struct SafetensorsError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var tensor: String?
    public var reason: String

    public init(path: String, tensor: String? = nil, reason: String) {
        self.path = path
        self.tensor = tensor
        self.reason = reason
    }

    public var description: String {
        if let tensor {
            return "safetensors file \(path), tensor \(tensor): \(reason)"
        }
        return "safetensors file \(path): \(reason)"
    }
}
