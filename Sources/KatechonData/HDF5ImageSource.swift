import CHDF5
import Foundation

/// Images stored in one HDF5 file, one dataset per `isic_id` in the root group, as in
/// the ISIC 2024 `train-image.hdf5` and `test-image.hdf5` files.
///
/// A dataset may contain the encoded image as a scalar fixed-length string (the ISIC
/// layout), a scalar variable-length string, an opaque blob, a 1-D `uint8` array, or a
/// scalar variable-length sequence of `uint8`.
/// Reads are serialised by `HDF5Library.locked`; decoding happens outside the lock.
public final class HDF5ImageSource: ImageSource, @unchecked Sendable {
    public let path: String
    public let ids: [String]
    public var location: String { path }
    private let file: hid_t
    private let idSet: Set<String>

    /// Opens the file read-only and lists its datasets. A truncated or non-HDF5 file
    /// throws `DataError.hdf5Failure` naming the file.
    public init(path: String) throws {
        self.path = path
        let (file, names) = try HDF5Library.locked { () throws -> (hid_t, [String]) in
            let file = H5Fopen(path, katechon_h5f_acc_rdonly(), katechon_h5p_default())
            guard file >= 0 else {
                throw DataError.hdf5Failure(path: path, operation: "open",
                                            detail: HDF5Library.lastErrorMessage()
                                                + "; check that it is a complete HDF5 file and copy it again if it was cut short")
            }
            var names: [String] = []
            let visitor: H5L_iterate_t = { _, name, _, context in
                guard let name, let context else { return -1 }
                context.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name))
                return 0
            }
            let status = withUnsafeMutablePointer(to: &names) { pointer in
                H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, nil, visitor, pointer)
            }
            guard status >= 0 else {
                let detail = HDF5Library.lastErrorMessage()
                H5Fclose(file)
                throw DataError.hdf5Failure(path: path, operation: "list datasets", detail: detail)
            }
            return (file, names)
        }
        self.file = file
        self.ids = names.sorted()
        self.idSet = Set(names)
    }

    deinit {
        HDF5Library.locked { _ = H5Fclose(file) }
    }

    public func contains(_ isicID: String) -> Bool {
        idSet.contains(isicID)
    }

    public func encodedImage(for isicID: String) throws -> [UInt8] {
        guard idSet.contains(isicID) else {
            throw DataError.imageNotFound(isicID: isicID, source: path)
        }
        return try HDF5Library.locked {
            try readBlob(isicID)
        }
    }

    /// Reads one dataset's bytes. Must run under `HDF5Library.locked`.
    private func readBlob(_ name: String) throws -> [UInt8] {
        func failure(_ operation: String) -> DataError {
            .hdf5Failure(path: path, operation: "\(operation) of dataset \(name)", detail: HDF5Library.lastErrorMessage())
        }
        let plist = katechon_h5p_default()
        let all = katechon_h5s_all()

        let dataset = H5Dopen2(file, name, plist)
        guard dataset >= 0 else { throw failure("open") }
        defer { H5Dclose(dataset) }
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw failure("type query") }
        defer { H5Tclose(type) }
        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw failure("dataspace query") }
        defer { H5Sclose(space) }
        let points = Int(H5Sget_simple_extent_npoints(space))
        let typeClass = H5Tget_class(type)

        switch typeClass {
        case H5T_STRING where H5Tis_variable_str(type) > 0:
            guard points == 1 else {
                throw DataError.hdf5Failure(path: path, operation: "read of dataset \(name)",
                                            detail: "expected one variable-length string, found \(points)")
            }
            let memoryType = H5Tcopy(katechon_h5t_c_s1())
            defer { H5Tclose(memoryType) }
            H5Tset_size(memoryType, katechon_h5t_variable())
            // HDF5 converts no character set to another, so read in the file's (h5py writes UTF-8).
            H5Tset_cset(memoryType, H5Tget_cset(type))
            var pointer: UnsafeMutablePointer<CChar>? = nil
            guard H5Dread(dataset, memoryType, all, all, plist, &pointer) >= 0 else { throw failure("read") }
            guard let pointer else { return [] }
            defer { free(pointer) }
            // NOTE: a variable-length string ends at its first NUL byte, so an image
            // stored this way is only complete if it contains no zero bytes.
            return Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                             count: strlen(pointer)))

        case H5T_STRING, H5T_OPAQUE:
            let size = Int(H5Tget_size(type))
            var bytes = [UInt8](repeating: 0, count: size * points)
            let status = bytes.withUnsafeMutableBytes { H5Dread(dataset, type, all, all, plist, $0.baseAddress) }
            guard status >= 0 else { throw failure("read") }
            return bytes

        case H5T_VLEN:
            // A scalar variable-length sequence of bytes, as h5py's vlen_dtype(uint8) writes.
            let base = H5Tget_super(type)
            guard base >= 0 else { throw failure("base type query") }
            let baseIsByte = H5Tget_class(base) == H5T_INTEGER && H5Tget_size(base) == 1
            H5Tclose(base)
            guard baseIsByte, points == 1 else {
                throw DataError.hdf5Failure(path: path, operation: "read of dataset \(name)",
                                            detail: "expected one variable-length sequence of bytes, found \(points) of another type")
            }
            let memoryType = H5Tvlen_create(katechon_h5t_native_uint8())
            defer { H5Tclose(memoryType) }
            var sequence = hvl_t(len: 0, p: nil)
            guard H5Dread(dataset, memoryType, all, all, plist, &sequence) >= 0 else { throw failure("read") }
            defer { H5Dvlen_reclaim(memoryType, space, plist, &sequence) }
            guard let start = sequence.p else { return [] }
            return Array(UnsafeBufferPointer(start: start.assumingMemoryBound(to: UInt8.self), count: sequence.len))

        case H5T_INTEGER where H5Tget_size(type) == 1:
            var bytes = [UInt8](repeating: 0, count: points)
            let status = bytes.withUnsafeMutableBytes {
                H5Dread(dataset, katechon_h5t_native_uint8(), all, all, plist, $0.baseAddress)
            }
            guard status >= 0 else { throw failure("read") }
            return bytes

        default:
            throw DataError.hdf5Failure(path: path, operation: "read of dataset \(name)",
                                        detail: "type class \(typeClass.rawValue) is not a string, opaque or uint8 image blob")
        }
    }
}
