import Foundation

/// Reads and writes the safetensors format of Hugging Face's `safetensors` library.
///
/// Layout: an 8-byte little-endian header length n, n bytes of JSON mapping each tensor
/// name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the
/// end of the header) plus an optional `"__metadata__"` map of strings, then the raw
/// little-endian data.
///
/// Reading accepts F32, F16 and BF16 tensors and converts them to Float; writing stores
/// F32. Every header field is checked against the file before any data is read.
public enum Safetensors {
    /// The contents of one file: tensors in data order and the string metadata.
    public struct Contents: Sendable, Equatable {
        public var tensors: [NamedTensor]
        public var metadata: [String: String]

        public init(tensors: [NamedTensor], metadata: [String: String]) {
            self.tensors = tensors
            self.metadata = metadata
        }
    }

    /// Element types this reader converts to Float, with their sizes in bytes.
    static let elementSizes = ["F32": 4, "F16": 2, "BF16": 2]
    static let metadataKey = "__metadata__"

    /// Reads every tensor and the metadata of the file at `url`.
    public static func read(_ url: URL) throws -> Contents {
        let path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafetensorsError(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }

        let headerLength = try readHeaderLength(data, path: path)
        let dataStart = 8 + headerLength
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart))
        } catch {
            throw SafetensorsError(path: path, reason: "header is not valid JSON (\(error.localizedDescription))")
        }
        guard let header = json as? [String: Any] else {
            throw SafetensorsError(path: path, reason: "header is not a JSON object")
        }

        let metadata = try readMetadata(header[metadataKey], path: path)
        var entries: [Entry] = []
        for (name, value) in header where name != metadataKey {
            entries.append(try Entry(name: name, json: value, path: path, dataSize: data.count - dataStart))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        // Empty tensors own no bytes, so only non-empty ones can overlap.
        let occupied = entries.filter { $0.end > $0.begin }
        for (previous, next) in zip(occupied, occupied.dropFirst()) where next.begin < previous.end {
            throw SafetensorsError(
                path: path, tensor: next.name,
                reason: "data_offsets [\(next.begin), \(next.end)] overlap tensor \(previous.name) at [\(previous.begin), \(previous.end)]")
        }

        let tensors = data.withUnsafeBytes { raw in
            entries.map { entry in
                NamedTensor(name: entry.name, shape: entry.shape,
                            values: decode(raw, from: dataStart + entry.begin, count: entry.count, dtype: entry.dtype))
            }
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    /// Writes `tensors` as F32 with `metadata` to `url`, through a temporary file in the
    /// same directory that is synced and renamed, so `url` never contains a partial file.
    public static func write(_ tensors: [NamedTensor], metadata: [String: String] = [:], to url: URL) throws {
        let path = url.path
        var header: [String: Any] = [:]
        var offset = 0
        for tensor in tensors {
            guard header[tensor.name] == nil, tensor.name != metadataKey else {
                throw SafetensorsError(path: path, tensor: tensor.name, reason: "name is used twice or reserved")
            }
            let size = tensor.values.count * 4
            header[tensor.name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + size]]
            offset += size
        }
        if !metadata.isEmpty { header[metadataKey] = metadata }

        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var file = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(headerBytes)
        for tensor in tensors {
            tensor.values.withUnsafeBytes { file.append(contentsOf: $0) }
        }

        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try file.write(to: temporary)
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.synchronize()
            try handle.close()
            if rename(temporary.path, path) != 0 {
                throw SafetensorsError(path: path, reason: "rename from \(temporary.path) failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? SafetensorsError { throw error }
            throw SafetensorsError(path: path, reason: "cannot be written (\(error.localizedDescription))")
        }
    }

    /// One validated header entry.
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var count: Int
        var begin: Int
        var end: Int

        init(name: String, json: Any, path: String, dataSize: Int) throws {
            self.name = name
            func invalid(_ reason: String) -> SafetensorsError {
                SafetensorsError(path: path, tensor: name, reason: reason)
            }
            guard let fields = json as? [String: Any] else {
                throw invalid("header entry is not a JSON object")
            }
            guard let dtype = fields["dtype"] as? String else {
                throw invalid("dtype is missing or not a string")
            }
            guard let elementSize = Safetensors.elementSizes[dtype] else {
                throw invalid("dtype \(dtype) is not supported; convert the tensor to F32, F16 or BF16")
            }
            guard let shape = integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw invalid("shape is missing or not a list of non-negative integers")
            }
            guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
                throw invalid("data_offsets is missing or not a pair of integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard 0 <= begin, begin <= end, end <= dataSize else {
                throw invalid("data_offsets [\(begin), \(end)] lie outside the \(dataSize) data bytes")
            }
            let count = shape.reduce(1, *)
            guard end - begin == count * elementSize else {
                throw invalid("data_offsets [\(begin), \(end)] span \(end - begin) bytes, but shape \(shape) of \(dtype) needs \(count * elementSize)")
            }
            self.dtype = dtype
            self.shape = shape
            self.count = count
            self.begin = begin
            self.end = end
        }
    }

    static func readHeaderLength(_ data: Data, path: String) throws -> Int {
        guard data.count >= 8 else {
            throw SafetensorsError(path: path, reason: "file has \(data.count) bytes, fewer than the 8-byte header length")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard length <= UInt64(data.count - 8) else {
            throw SafetensorsError(path: path, reason: "header length \(length) exceeds the \(data.count - 8) bytes after it; the file is truncated or not safetensors")
        }
        return Int(length)
    }

    static func readMetadata(_ json: Any?, path: String) throws -> [String: String] {
        guard let json else { return [:] }
        guard let map = json as? [String: Any] else {
            throw SafetensorsError(path: path, tensor: metadataKey, reason: "is not a JSON object")
        }
        var metadata: [String: String] = [:]
        for (key, value) in map {
            guard let string = value as? String else {
                throw SafetensorsError(path: path, tensor: metadataKey, reason: "value of \(key) is not a string")
            }
            metadata[key] = string
        }
        return metadata
    }

    /// Returns the JSON array `json` as integers, or nil if it is not an array of integral numbers.
    static func integers(_ json: Any?) -> [Int]? {
        guard let array = json as? [Any] else { return nil }
        var result: [Int] = []
        for element in array {
            guard let number = element as? NSNumber,
                  let value = Int(exactly: number.doubleValue) else { return nil }
            result.append(value)
        }
        return result
    }

    /// Converts `count` little-endian elements of `dtype` at byte `offset` to Float.
    static func decode(_ raw: UnsafeRawBufferPointer, from offset: Int, count: Int, dtype: String) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { values, initialized in
            let source = raw.baseAddress! + offset
            switch dtype {
            case "F32":
                for i in 0..<count {
                    values[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case "F16":
                for i in 0..<count {
                    let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    values[i] = Float(Float16(bitPattern: bits))
                }
            case "BF16":
                for i in 0..<count {
                    let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    values[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            default:
                preconditionFailure("dtype \(dtype) passed validation but has no decoder")
            }
            initialized = count
        }
    }
}
