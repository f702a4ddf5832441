/// A weights file that cannot be loaded into a `VisionTransformer`.
public enum ViTWeightError: Error, Equatable, CustomStringConvertible {
    /// The model needs `key` but the file lacks it.
    case missingTensor(key: String, expectedShape: [Int])
    /// `key` is present with another shape than the model's.
    case shapeMismatch(key: String, expected: [Int], found: [Int])
    /// `key` belongs to a part of the architecture this encoder does not have (layer
    /// scale, register tokens, extra blocks, …), so loading it would change the network.
    case unsupportedKey(key: String)
    /// The shapes in the file do not describe a ViT this encoder can build.
    case invalidConfig(key: String, shape: [Int], reason: String)

    public var description: String {
        switch self {
        case .missingTensor(let key, let shape):
            return "ViT weights: tensor \(key) with shape \(shape) is missing; check that the file holds a timm or Hugging Face ViT"
        case .shapeMismatch(let key, let expected, let found):
            return "ViT weights: tensor \(key) has shape \(found), expected \(expected); check --backbone, --image-size and --vit-heads against the file"
        case .unsupportedKey(let key):
            return "ViT weights: tensor \(key) belongs to an architecture variant this encoder does not implement; use a plain timm ViT (class token, absolute position embedding, no layer scale)"
        case .invalidConfig(let key, let shape, let reason):
            return "ViT weights: tensor \(key) with shape \(shape): \(reason)"
        }
    }
}
