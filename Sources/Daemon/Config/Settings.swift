import HAL
import Logging
import Posix

/// Every setting of `qlinkd`, parsed once from the config into typed values.
///
/// The keys, their defaults and their meaning are listed in `ConfigSchema.keys`
/// (and printed by `qlinkd --list-keys`).
public struct Settings: Sendable, Equatable {
    public enum Board: String, Sendable, CaseIterable {
        case fsm9016, sim
    }

    // [station]
    public var stationName = "qlink"
    public var boardProfile = Board.fsm9016
    public var keyFile: String?
    // [paths]
    public var stateDirectory = "/var/lib/qlink"
    public var runtimeDirectory = "/run/qlink"
    // [control]
    public var controlSocketOverride: String?
    public var controlGroup = "qlink"
    public var maximumControlClients = 32
    // [wifi]
    public var wifiEnabled = true
    public var hostapdControlDirectory = "/run/hostapd"
    public var wifiInterface = "wlan0"
    public var pskFile = "/etc/qlink/wpa_psk"
    public var counterWidth = CounterWidth.bits32
    public var commandTimeout = Duration.seconds(2)
    public var reconnectMaximum = Duration.seconds(5)
    public var accountingEndpoint: IPv4Endpoint?
    public var accountingSecretFile = "/etc/qlink/radius-secret"
    public var finalCountersWait = Duration.seconds(3)
    // [metering]
    public var pollInterval = Duration.seconds(5)
    public var flushInterval = Duration.seconds(180)
    public var meteringDirectoryOverride: String?
    public var segmentBytes = 8 << 20
    // [radio], [board]
    public var radio = RadioSettings()
    public var board = BoardSettings()
    // [chain]
    public var chain = ChainSettings()
    // [log]
    public var logLevel = LogLevel.info

    public init() {}

    /// The control socket: `[control] socket`, else `qlinkd.sock` in the runtime directory.
    public var controlSocket: String { controlSocketOverride ?? "\(runtimeDirectory)/qlinkd.sock" }
    /// The station's Ed25519 key: `[station] key_file`, else `station.key` in the state directory.
    public var stationKeyFile: String { keyFile ?? "\(stateDirectory)/station.key" }
    public var lockFile: String { "\(stateDirectory)/qlinkd.lock" }
    /// The metering journal: `[metering] directory`, else `metering` in the state directory.
    public var meteringDirectory: String { meteringDirectoryOverride ?? "\(stateDirectory)/metering" }
}

/// Loads `Settings` from a config file and its drop-ins.
public enum ConfigLoader {
    /// The config `qlinkd` and `qlinkctl` read when none is named.
    public static let defaultPath = "/etc/qlink/qlinkd.conf"

    public static func load(path: String) throws(ConfigError) -> Settings {
        try ConfigSchema.settings(from: INIFile.load(path))
    }

    /// The control socket named by the config, checking only the keys that decide it, so that
    /// `qlinkctl` still reaches a running daemon while someone edits the rest of the file.
    public static func controlSocket(path: String) throws(ConfigError) -> String {
        try ConfigSchema.settings(from: INIFile.load(path), only: ["control.socket", "paths.runtime"]).controlSocket
    }

    /// The paths `qlinkctl meter` reads while the daemon may be down: only their keys are checked.
    public static func stationFiles(path: String) throws(ConfigError) -> (metering: String, stationKey: String) {
        let s = try ConfigSchema.settings(from: INIFile.load(path), only: ["paths.state", "metering.directory", "station.key_file"])
        return (s.meteringDirectory, s.stationKeyFile)
    }
}

import Synchronization

/// The running daemon's settings, replaced as a whole on reload.
public final class SettingsStore: Sendable {
    private let storage: Mutex<Settings>
    public init(_ settings: Settings) { storage = Mutex(settings) }
    public var current: Settings { storage.withLock { $0 } }
    public func replace(_ settings: Settings) { storage.withLock { $0 = settings } }
}
