/// Loads pretrained ViT weights, with timm keys or Hugging Face `transformers` keys,
/// into a `VisionTransformer`.
///
/// Hugging Face names are first mapped onto timm's (with or without the leading `vit.`):
///
///     embeddings.cls_token                             → cls_token
///     embeddings.position_embeddings                   → pos_embed
///     embeddings.patch_embeddings.projection           → patch_embed.proj
///     encoder.layer.{i}.layernorm_before               → blocks.{i}.norm1
///     encoder.layer.{i}.attention.attention.query|key|value
///                                                      → blocks.{i}.attn.qkv (q, k, v rows)
///     encoder.layer.{i}.attention.output.dense         → blocks.{i}.attn.proj
///     encoder.layer.{i}.layernorm_after                → blocks.{i}.norm2
///     encoder.layer.{i}.intermediate.dense             → blocks.{i}.mlp.fc1
///     encoder.layer.{i}.output.dense                   → blocks.{i}.mlp.fc2
///     layernorm                                        → norm
///
/// Classifier heads and poolers (`head.*`, `fc_norm.*`, `pooler.*`, `classifier.*`, …)
/// are ignored and reported. Any other unknown key is an error, because it would mean
/// an architecture this encoder does not implement.
public enum ViTWeightLoader {
    /// One tensor read from a weights file: shape and row-major values.
    public struct Weight: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]

        public init(shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count,
                         "weight shape \(shape) does not match \(values.count) values")
            self.shape = shape
            self.values = values
        }
    }

    /// Key prefixes that belong to heads outside `forward_features`.
    static let ignoredPrefixes = ["head.", "head_drop.", "fc_norm.", "attn_pool.", "pooler.", "classifier.",
                                  "embeddings.mask_token"]

    /// Infers the encoder's shape from the tensors: width and patch size from
    /// `patch_embed.proj.weight`, depth from the block indices, MLP width from
    /// `blocks.0.mlp.fc1.weight` and the pretrained grid from `pos_embed`.
    ///
    /// The image size defaults to the pretrained one and the head count to width / 64,
    /// since neither can be read from the weights.
    public static func inferConfig(
        from tensors: [String: Weight], imageSize: Int?, heads: Int?, trainableBlocks: Int
    ) throws -> ViTConfig {
        let timm = try timmNamed(tensors).tensors

        let patchKey = "patch_embed.proj.weight"
        guard let patchWeight = timm[patchKey] else {
            throw ViTWeightError.missingTensor(key: patchKey, expectedShape: [-1, 3, -1, -1])
        }
        let patchShape = patchWeight.shape
        guard patchShape.count == 4, patchShape[1] == PatchEmbed.channels, patchShape[2] == patchShape[3], patchShape[2] > 0 else {
            throw ViTWeightError.invalidConfig(key: patchKey, shape: patchShape,
                                               reason: "expected [width, 3, patch, patch]")
        }
        let (width, patch) = (patchShape[0], patchShape[2])

        let grid = try pretrainedGrid(timm, width: width)
        let depth = (timm.keys.compactMap(blockIndex).max() ?? -1) + 1
        guard depth > 0 else {
            throw ViTWeightError.missingTensor(key: "blocks.0.norm1.weight", expectedShape: [width])
        }
        let fc1Key = "blocks.0.mlp.fc1.weight"
        guard let fc1 = timm[fc1Key] else {
            throw ViTWeightError.missingTensor(key: fc1Key, expectedShape: [-1, width])
        }

        let headCount = heads ?? width / 64
        guard headCount > 0, width % headCount == 0 else {
            throw ViTWeightError.invalidConfig(
                key: patchKey, shape: patchShape,
                reason: "width \(width) cannot be split into \(headCount) heads\(heads == nil ? " (the default, width / 64)" : ""); pass --vit-heads with a divisor of \(width)")
        }
        let size = imageSize ?? grid * patch
        guard size > 0, size % patch == 0 else {
            throw ViTWeightError.invalidConfig(
                key: patchKey, shape: patchShape,
                reason: "image size \(size) is not a multiple of the patch size \(patch); choose --image-size accordingly")
        }
        guard (0...depth).contains(trainableBlocks) else {
            throw ViTWeightError.invalidConfig(
                key: "blocks", shape: [depth],
                reason: "--trainable-blocks \(trainableBlocks) is outside 0...\(depth) for this \(depth)-block model")
        }
        return ViTConfig(imageSize: size, patchSize: patch, width: width, depth: depth, heads: headCount,
                         mlpHidden: fc1.shape[0], trainableBlocks: trainableBlocks)
    }

    /// Copies every parameter of `model` from `tensors` into `store`, resampling
    /// `pos_embed` bicubically when the file's patch grid differs from the model's.
    ///
    /// `antialias` picks PyTorch's antialiased bicubic kernel for that resampling (see
    /// `PositionEmbedding`), which timm 1.0 applies when it loads a checkpoint at another
    /// image size. The two kernels give different values for any change of grid.
    ///
    /// Returns the keys it ignored, sorted, so the caller can report them. Throws
    /// `ViTWeightError` for a missing, mis-shaped or unsupported tensor.
    public static func load(_ tensors: [String: Weight], into model: VisionTransformer,
                            store: ParameterStore, antialias: Bool = true) throws -> [String] {
        precondition(store === model.store, "load into a store other than the model's")
        precondition(store.isAllocated, "load before the parameter store is allocated")
        let renamed = try timmNamed(tensors)
        var timm = renamed.tensors

        for (name, id) in parameters(of: model) {
            let expected = store.entries[id.index].shape
            guard let source = timm.removeValue(forKey: name) else {
                throw ViTWeightError.missingTensor(key: name, expectedShape: expected)
            }
            let fileKey = renamed.originalNames[name] ?? name
            if name == "pos_embed" && source.shape != expected {
                let values = try resampledPositionEmbedding(source, expected: expected, config: model.config,
                                                            antialias: antialias)
                store.setValues(values, of: id)
                continue
            }
            guard source.shape == expected else {
                throw ViTWeightError.shapeMismatch(key: fileKey, expected: expected, found: source.shape)
            }
            store.setValues(source.values, of: id)
        }

        if let extra = timm.keys.sorted().first {
            throw ViTWeightError.unsupportedKey(key: renamed.originalNames[extra] ?? extra)
        }
        return renamed.ignored.sorted()
    }

    /// Lists the model's parameters under their timm names, without the model's prefix.
    static func parameters(of model: VisionTransformer) -> [(String, ParameterID)] {
        var list: [(String, ParameterID)] = [
            ("cls_token", model.clsToken),
            ("pos_embed", model.posEmbed),
            ("patch_embed.proj.weight", model.patchEmbed.weight),
            ("patch_embed.proj.bias", model.patchEmbed.bias),
        ]
        for (i, block) in model.blocks.enumerated() {
            let layers: [(String, ParameterID, ParameterID?)] = [
                ("norm1", block.norm1.weight, block.norm1.bias),
                ("attn.qkv", block.attn.qkv.weight, block.attn.qkv.bias),
                ("attn.proj", block.attn.proj.weight, block.attn.proj.bias),
                ("norm2", block.norm2.weight, block.norm2.bias),
                ("mlp.fc1", block.mlp.fc1.weight, block.mlp.fc1.bias),
                ("mlp.fc2", block.mlp.fc2.weight, block.mlp.fc2.bias),
            ]
            for (layer, weight, bias) in layers {
                list.append(("blocks.\(i).\(layer).weight", weight))
                if let bias { list.append(("blocks.\(i).\(layer).bias", bias)) }
            }
        }
        list.append(("norm.weight", model.norm.weight))
        list.append(("norm.bias", model.norm.bias))
        return list
    }

    /// Returns the side of the square patch grid that `pos_embed` [1, 1 + g², D] was trained at.
    static func pretrainedGrid(_ timm: [String: Weight], width: Int) throws -> Int {
        let key = "pos_embed"
        guard let pos = timm[key] else {
            throw ViTWeightError.missingTensor(key: key, expectedShape: [1, -1, width])
        }
        let shape = pos.shape
        guard shape.count == 3, shape[0] == 1, shape[2] == width, shape[1] > 1 else {
            throw ViTWeightError.invalidConfig(key: key, shape: shape,
                                               reason: "expected [1, 1 + grid², \(width)]")
        }
        let patches = shape[1] - 1
        let grid = Int(Double(patches).squareRoot().rounded())
        guard grid * grid == patches else {
            throw ViTWeightError.invalidConfig(
                key: key, shape: shape,
                reason: "\(patches) patch positions do not form a square grid after the class token")
        }
        return grid
    }

    static func resampledPositionEmbedding(_ source: Weight, expected: [Int], config: ViTConfig,
                                           antialias: Bool) throws -> [Float] {
        let key = "pos_embed"
        let oldGrid: Int
        do {
            oldGrid = try pretrainedGrid([key: source], width: config.width)
        } catch {
            throw ViTWeightError.shapeMismatch(key: key, expected: expected, found: source.shape)
        }
        let newGrid = config.gridSize
        return PositionEmbedding.resample(source.values, width: config.width, prefixTokens: 1,
                                          from: (oldGrid, oldGrid), to: (newGrid, newGrid), antialias: antialias)
    }

    /// Returns the block index of a timm key `blocks.{i}.…`, or nil for other keys.
    static func blockIndex(_ key: String) -> Int? {
        guard key.hasPrefix("blocks.") else { return nil }
        let rest = key.dropFirst("blocks.".count)
        return rest.split(separator: ".", maxSplits: 1).first.flatMap { Int($0) }
    }

    /// Tensors under timm names, with the keys they had in the file.
    struct Renamed {
        var tensors: [String: Weight] = [:]
        /// The file's key for each timm name that differs from it, for error messages.
        var originalNames: [String: String] = [:]
        /// Keys of the file that belong to heads and are not loaded.
        var ignored: [String] = []
    }

    /// Maps Hugging Face keys onto timm's and sets the ignored keys aside.
    static func timmNamed(_ tensors: [String: Weight]) throws -> Renamed {
        var result = Renamed()
        var attentionParts: [String: Weight] = [:]
        var attentionPrefix = ""

        for (original, weight) in tensors {
            var key = original
            if key.hasPrefix("vit.") { key.removeFirst("vit.".count) }
            if ignoredPrefixes.contains(where: { key.hasPrefix($0) }) {
                result.ignored.append(original)
                continue
            }
            let name = huggingFaceToTimm(key) ?? key
            if name.hasPrefix("qkv:") {
                attentionParts[String(name.dropFirst("qkv:".count))] = weight
                attentionPrefix = original.hasPrefix("vit.") ? "vit." : ""
                continue
            }
            result.tensors[name] = weight
            if name != original { result.originalNames[name] = original }
        }

        // query, key and value stack as the q, k and v row blocks of qkv
        let groups = Set(attentionParts.keys.map { name -> String in
            let parts = name.split(separator: ".")
            return "\(parts[0]).\(parts[2])"
        })
        for group in groups.sorted() {
            let layer = group.split(separator: ".")[0]
            let suffix = group.split(separator: ".")[1]
            let parts = ["query", "key", "value"]
            let shape = parts.compactMap { attentionParts["\(layer).\($0).\(suffix)"] }.first!.shape
            var stacked: [Float] = []
            for part in parts {
                let huggingFaceKey = "\(attentionPrefix)encoder.layer.\(layer).attention.attention.\(part).\(suffix)"
                guard let weight = attentionParts["\(layer).\(part).\(suffix)"] else {
                    throw ViTWeightError.missingTensor(key: huggingFaceKey, expectedShape: shape)
                }
                guard weight.shape == shape else {
                    throw ViTWeightError.shapeMismatch(key: huggingFaceKey, expected: shape, found: weight.shape)
                }
                stacked += weight.values
            }
            let stackedShape = [3 * shape[0]] + shape.dropFirst()
            let name = "blocks.\(layer).attn.qkv.\(suffix)"
            result.tensors[name] = Weight(shape: stackedShape, values: stacked)
            result.originalNames[name] = "\(attentionPrefix)encoder.layer.\(layer).attention.attention.{query,key,value}.\(suffix)"
        }
        return result
    }

    /// Returns the timm name of a Hugging Face key (without `vit.`), or nil when `key` is
    /// not a Hugging Face ViT key. Query, key and value come back as "qkv:{i}.{part}.{suffix}"
    /// for stacking.
    static func huggingFaceToTimm(_ key: String) -> String? {
        let fixed = [
            "embeddings.cls_token": "cls_token",
            "embeddings.position_embeddings": "pos_embed",
            "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
            "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
            "layernorm.weight": "norm.weight",
            "layernorm.bias": "norm.bias",
        ]
        if let name = fixed[key] { return name }

        let layerPrefix = "encoder.layer."
        guard key.hasPrefix(layerPrefix) else { return nil }
        let rest = key.dropFirst(layerPrefix.count)
        guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]) else { return nil }
        let path = String(rest[rest.index(after: dot)...])
        for suffix in ["weight", "bias"] {
            for part in ["query", "key", "value"] where path == "attention.attention.\(part).\(suffix)" {
                return "qkv:\(index).\(part).\(suffix)"
            }
        }
        let layers = [
            "layernorm_before": "norm1",
            "attention.output.dense": "attn.proj",
            "layernorm_after": "norm2",
            "intermediate.dense": "mlp.fc1",
            "output.dense": "mlp.fc2",
        ]
        for (huggingFace, timm) in layers {
            for suffix in ["weight", "bias"] where path == "\(huggingFace).\(suffix)" {
                return "blocks.\(index).\(timm).\(suffix)"
            }
        }
        return nil
    }
}
