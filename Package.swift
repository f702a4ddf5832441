// swift-tools-version:6.0
import PackageDescription

// Native libraries come from Debian packages (see scripts/setup.sh) through
// system-library targets; no Swift package outside the toolchain is used.
let nativeLibraries: [Target] = [
    .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi",
                   providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
    .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                   providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                   providers: [.apt(["libzstd-dev"])]),
    .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
                   providers: [.apt(["libturbojpeg0-dev"])]),
    .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                   providers: [.apt(["libpng-dev"])]),
    .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                   providers: [.apt(["libhdf5-dev"])]),
    .target(name: "CMPIShim", dependencies: ["CMPI"]),
]

let package = Package(
    name: "Katechon",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "katechon-dist", targets: ["katechon-dist"]),
    ],
    targets: nativeLibraries + [
        // Tensors and kernels: contiguous Float32 storage, sgemm, elementwise kernels.
        .target(name: "KatechonTensor", dependencies: ["CBLAS"]),
        // The model: ViT, metadata encoder, fusion decoder, heads, optimizer.
        .target(name: "KatechonModel", dependencies: ["KatechonTensor"]),
        // Files to batches: CSV, HDF5, JPEG, PNG, JSON sidecars, splits, augmentation.
        .target(name: "KatechonData", dependencies: ["CTurboJPEG", "CPNG", "CHDF5"]),
        // MPI and flat float buffers: communicator, bucketed gradient all-reduce.
        .target(name: "KatechonDistributed", dependencies: ["CMPI", "CMPIShim"]),
        // Named tensors on disk: safetensors and zstd-compressed .kcpt checkpoints.
        .target(name: "KatechonCheckpoint", dependencies: ["CZstd"]),
        // ROC AUC, ISIC 2024 partial AUC, top-15 sensitivity, multiclass metrics.
        .target(name: "KatechonMetrics", dependencies: ["CPNG"]),
        // Composes model, data, distributed runtime and checkpoints.
        .target(name: "KatechonTraining",
                dependencies: ["KatechonTensor", "KatechonModel", "KatechonData",
                               "KatechonDistributed", "KatechonCheckpoint", "KatechonMetrics"]),
        .executableTarget(name: "katechon-dist", dependencies: ["KatechonTraining"]),
        // A small MPI program that the distributed tests launch under real mpirun.
        .executableTarget(name: "katechon-mpi-probe", dependencies: ["KatechonDistributed"]),

        .testTarget(name: "KatechonTensorTests", dependencies: ["KatechonTensor"]),
        .testTarget(name: "KatechonModelTests",
                    dependencies: ["KatechonModel", "KatechonTensor", "KatechonCheckpoint"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "KatechonDataTests", dependencies: ["KatechonData"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "KatechonDistributedTests",
                    dependencies: ["KatechonDistributed", "KatechonTraining"]),
        .testTarget(name: "KatechonCheckpointTests", dependencies: ["KatechonCheckpoint"]),
        .testTarget(name: "KatechonMetricsTests", dependencies: ["KatechonMetrics"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "KatechonTrainingTests",
                    dependencies: ["KatechonTraining", "KatechonModel", "KatechonData",
                                   "KatechonCheckpoint", "KatechonMetrics"],
                    exclude: ["Fixtures"]),
    ],
    // Language mode 5: the trainer shares raw buffers between its compute, loader and
    // communication threads under its own locks, which Swift 6's checker cannot follow.
    swiftLanguageModes: [.v5]
)
