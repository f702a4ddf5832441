import CHDF5
import Foundation

/// Writes encoded images into a new HDF5 file, one dataset per `isic_id` in the root
/// group, in the layout `HDF5ImageSource` reads.
public final class HDF5ImageWriter {
    /// The storage type of one dataset's bytes.
    public enum Layout: Sendable {
        /// A scalar fixed-length, NUL-padded byte string, as in the ISIC 2024 files.
        case fixedString
        /// A scalar opaque blob.
        case opaque
        /// A 1-D array of `uint8`.
        case uint8Array
    }

    public let path: String
    private var file: hid_t

    /// Creates (or truncates) the file.
    public init(path: String) throws {
        self.path = path
        file = try HDF5Library.locked {
            let file = H5Fcreate(path, katechon_h5f_acc_trunc(), katechon_h5p_default(), katechon_h5p_default())
            guard file >= 0 else {
                throw DataError.hdf5Failure(path: path, operation: "create", detail: HDF5Library.lastErrorMessage())
            }
            return file
        }
    }

    deinit {
        try? close()
    }

    /// Adds one dataset named `isicID` holding `bytes`.
    public func add(_ isicID: String, bytes: [UInt8], layout: Layout = .fixedString) throws {
        precondition(file >= 0, "HDF5ImageWriter used after close")
        precondition(!bytes.isEmpty, "an image blob cannot be empty")
        try HDF5Library.locked {
            let plist = katechon_h5p_default()
            let type: hid_t
            let space: hid_t
            switch layout {
            case .fixedString:
                type = H5Tcopy(katechon_h5t_c_s1())
                H5Tset_size(type, bytes.count)
                H5Tset_strpad(type, H5T_STR_NULLPAD)
                space = H5Screate(H5S_SCALAR)
            case .opaque:
                type = H5Tcreate(H5T_OPAQUE, bytes.count)
                space = H5Screate(H5S_SCALAR)
            case .uint8Array:
                type = H5Tcopy(katechon_h5t_native_uint8())
                var dimension = hsize_t(bytes.count)
                space = H5Screate_simple(1, &dimension, nil)
            }
            defer {
                H5Tclose(type)
                H5Sclose(space)
            }
            let dataset = H5Dcreate2(file, isicID, type, space, plist, plist, plist)
            guard dataset >= 0 else {
                throw DataError.hdf5Failure(path: path, operation: "create dataset \(isicID)", detail: HDF5Library.lastErrorMessage())
            }
            defer { H5Dclose(dataset) }
            let status = bytes.withUnsafeBytes {
                H5Dwrite(dataset, type, katechon_h5s_all(), katechon_h5s_all(), plist, $0.baseAddress)
            }
            guard status >= 0 else {
                throw DataError.hdf5Failure(path: path, operation: "write dataset \(isicID)", detail: HDF5Library.lastErrorMessage())
            }
        }
    }

    /// Flushes and closes the file; later calls do nothing.
    public func close() throws {
        guard file >= 0 else { return }
        let status = HDF5Library.locked { H5Fclose(file) }
        file = -1
        guard status >= 0 else {
            throw DataError.hdf5Failure(path: path, operation: "close", detail: "the file may be incomplete")
        }
    }
}
