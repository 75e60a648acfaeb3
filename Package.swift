// swift-tools-version:6.0
import PackageDescription

/// A Debian C library reached through a module map and a one-line shim header.
func systemLibrary(_ name: String, pkgConfig: String? = nil, apt: [String]) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkgConfig, providers: [.apt(apt)])
}

/// A module of this package; each keeps a README of what it owns and must never do.
func module(_ name: String, _ dependencies: [Target.Dependency] = []) -> Target {
    .target(name: name, dependencies: dependencies, exclude: ["README.md"])
}

let package = Package(
    name: "qlink",
    products: [
        .executable(name: "qlinkd", targets: ["qlinkd"]),
        .executable(name: "qlinkctl", targets: ["qlinkctl"]),
        .executable(name: "hal-sim", targets: ["hal-sim"]),
        .executable(name: "qlink-bench", targets: ["qlink-bench"]),
    ],
    targets: [
        systemLibrary("CSodium", pkgConfig: "libsodium", apt: ["libsodium-dev"]),
        systemLibrary("CSQLite", pkgConfig: "sqlite3", apt: ["libsqlite3-dev"]),
        systemLibrary("CNetlink", pkgConfig: "libnl-genl-3.0", apt: ["libnl-3-dev", "libnl-genl-3-dev"]),
        systemLibrary("CLibUSB", pkgConfig: "libusb-1.0", apt: ["libusb-1.0-0-dev"]),
        systemLibrary("CWPACtrl", apt: ["libwpa-client-dev"]),
        systemLibrary("CNettle", pkgConfig: "nettle", apt: ["nettle-dev"]),
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),

        module("Posix", ["CLinux"]),
        module("Logging"),
        module("HAL"),
        module("Crypto", ["CSodium", "CNettle"]),
        module("Ledger", ["Crypto"]),
        module("Consensus", ["Ledger", "Crypto", "Posix"]),
        module("ChainStore", ["Ledger", "CSQLite", "Posix"]),
        module("Control"),
        module("Metering", ["HAL", "Posix", "Crypto", "Logging"]),
        module("HALLinux", ["HAL", "Posix", "Logging", "Crypto", "CWPACtrl", "CLibUSB"]),
        module("HALSim", ["HAL", "Posix", "Logging", "Crypto"]),
        module("Daemon", ["Posix", "Logging", "HAL", "HALLinux", "Crypto", "Control", "Metering", "Ledger", "Consensus", "ChainStore"]),
        module("OperatorCLI", ["Posix", "Control", "Daemon", "Metering", "Crypto"]),

        .executableTarget(name: "qlinkd", dependencies: ["Daemon"]),
        .executableTarget(name: "qlinkctl", dependencies: ["OperatorCLI"]),
        .executableTarget(name: "hal-sim", dependencies: ["HALSim"], path: "hal-sim", exclude: ["scenarios", "README.md"]),
        .executableTarget(name: "qlink-bench", dependencies: ["Posix", "Ledger", "Metering", "ChainStore"]),

        .testTarget(name: "PosixTests", dependencies: ["Posix"]),
        .testTarget(name: "LoggingTests", dependencies: ["Logging"]),
        .testTarget(name: "HALTests", dependencies: ["HAL"]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "MeteringTests", dependencies: ["Metering", "HAL", "Posix", "Crypto"]),
        .target(name: "ChainTestSupport", dependencies: ["Ledger", "Crypto"], path: "Tests/ChainTestSupport"),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "Crypto", "ChainTestSupport"]),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "Ledger", "Crypto", "ChainTestSupport"]),
        .testTarget(name: "ChainStoreTests", dependencies: ["ChainStore", "Ledger", "Crypto", "Posix", "ChainTestSupport"]),
        .testTarget(name: "ControlTests", dependencies: ["Control"]),
        .testTarget(name: "HALLinuxTests", dependencies: ["HALLinux", "HALSim", "Posix"]),
        .testTarget(name: "HALSimTests", dependencies: ["HALSim", "Posix"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "Posix", "Ledger", "Crypto", "Consensus", "ChainStore"]),
        .testTarget(name: "OperatorCLITests", dependencies: ["OperatorCLI", "Control", "Posix"]),
        .testTarget(name: "IntegrationTests", dependencies: ["qlinkd", "qlinkctl", "hal-sim", "Ledger", "Crypto"], exclude: ["Scenarios"]),
        .testTarget(name: "PeerTests", dependencies: ["HALLinux", "Posix", "hal-sim"]),
    ],
    swiftLanguageModes: [.v6]
)
