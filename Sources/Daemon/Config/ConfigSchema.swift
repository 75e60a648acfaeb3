import HAL
import Logging
import Posix

/// The documented keys of `qlinkd.conf`: section, name, default and meaning, and how each
/// value is parsed into `Settings`. Defaults go through the same parser as written values.
public enum ConfigSchema {
    public struct Key: Sendable {
        public let section: String
        public let name: String
        /// The value used when the key is absent; empty means "derived", as `summary` says.
        public let defaultValue: String
        public let summary: String
        let apply: @Sendable (inout Settings, String) throws(ConfigError) -> Void

        public var qualifiedName: String { "\(section).\(name)" }
    }

    public static let keys: [Key] = baseKeys + radioKeys + boardKeys + chainKeys

    static let baseKeys: [Key] = [
        Key(section: "station", name: "name", defaultValue: "qlink", summary: "the station's name in logs and status") { s, v throws(ConfigError) in
            s.stationName = try nonEmpty(v)
        },
        Key(section: "station", name: "board", defaultValue: "fsm9016", summary: "board profile: fsm9016 or sim") { s, v throws(ConfigError) in
            s.boardProfile = try oneOf(v, Settings.Board.allCases)
        },
        Key(section: "station", name: "key_file", defaultValue: "", summary: "Ed25519 station key (default: STATE/station.key); created on first start, never overwritten") { s, v throws(ConfigError) in
            s.keyFile = v.isEmpty ? nil : try absolutePath(v)
        },
        Key(section: "paths", name: "state", defaultValue: "/var/lib/qlink", summary: "durable state: key, lock, journal, chain") { s, v throws(ConfigError) in
            s.stateDirectory = try absolutePath(v)
        },
        Key(section: "paths", name: "runtime", defaultValue: "/run/qlink", summary: "runtime files: the control socket") { s, v throws(ConfigError) in
            s.runtimeDirectory = try absolutePath(v)
        },
        Key(section: "control", name: "socket", defaultValue: "", summary: "control socket (default: RUNTIME/qlinkd.sock), mode 0660") { s, v throws(ConfigError) in
            s.controlSocketOverride = v.isEmpty ? nil : try absolutePath(v)
        },
        Key(section: "control", name: "group", defaultValue: "qlink", summary: "group that owns the control socket (left as is if it does not exist)") { s, v throws(ConfigError) in
            s.controlGroup = try nonEmpty(v)
        },
        Key(section: "control", name: "max_clients", defaultValue: "32", summary: "control connections served at once; more are refused") { s, v throws(ConfigError) in
            s.maximumControlClients = try integer(v, in: 1...1024)
        },
        Key(section: "wifi", name: "enabled", defaultValue: "yes", summary: "drive the Wi-Fi access point (hostapd)") { s, v throws(ConfigError) in
            s.wifiEnabled = try boolean(v)
        },
        Key(section: "wifi", name: "ctrl_interface", defaultValue: "/run/hostapd", summary: "hostapd's ctrl_interface directory") { s, v throws(ConfigError) in
            s.hostapdControlDirectory = try absolutePath(v)
        },
        Key(section: "wifi", name: "interface", defaultValue: "wlan0", summary: "the AP interface; its control socket is CTRL_INTERFACE/INTERFACE") { s, v throws(ConfigError) in
            s.wifiInterface = try nonEmpty(v)
        },
        Key(section: "wifi", name: "psk_file", defaultValue: "/etc/qlink/wpa_psk", summary: "hostapd's wpa_psk_file, for per-subscriber keys") { s, v throws(ConfigError) in
            s.pskFile = try absolutePath(v)
        },
        Key(section: "wifi", name: "counter_bits", defaultValue: "32", summary: "width of the driver's byte counters: 32 (wrap at 4 GiB) or 64") { s, v throws(ConfigError) in
            switch v {
            case "32": s.counterWidth = .bits32
            case "64": s.counterWidth = .bits64
            default: throw ConfigError(nil, "expected 32 or 64, got '\(v)'")
            }
        },
        Key(section: "wifi", name: "command_timeout", defaultValue: "2s", summary: "how long to wait for hostapd's reply") { s, v throws(ConfigError) in
            s.commandTimeout = try duration(v, in: .milliseconds(100) ... .seconds(60))
        },
        Key(section: "wifi", name: "reconnect_max", defaultValue: "5s", summary: "longest back-off between reconnects to hostapd") { s, v throws(ConfigError) in
            s.reconnectMaximum = try duration(v, in: .milliseconds(100) ... .seconds(300))
        },
        Key(section: "wifi", name: "accounting", defaultValue: "", summary: "HOST:PORT where hostapd's RADIUS accounting (acct_server_addr/port) reaches qlinkd for final counters; empty: off") { s, v throws(ConfigError) in
            guard !v.isEmpty else { s.accountingEndpoint = nil; return }
            guard let endpoint = IPv4Endpoint(v) else { throw ConfigError(nil, "expected HOST:PORT with an IPv4 host, got '\(v)'") }
            s.accountingEndpoint = endpoint
        },
        Key(section: "wifi", name: "accounting_secret_file", defaultValue: "/etc/qlink/radius-secret", summary: "file holding the RADIUS shared secret (acct_server_shared_secret)") { s, v throws(ConfigError) in
            s.accountingSecretFile = try absolutePath(v)
        },
        Key(section: "wifi", name: "final_counters_wait", defaultValue: "3s", summary: "how long a disconnect waits for its Accounting-Stop before the last poll stands as final") { s, v throws(ConfigError) in
            s.finalCountersWait = try duration(v, in: .zero ... .seconds(60))
        },
        Key(section: "metering", name: "poll_interval", defaultValue: "5s", summary: "how often every subscriber's counters are read") { s, v throws(ConfigError) in
            s.pollInterval = try duration(v, in: .milliseconds(100) ... .seconds(300))
        },
        Key(section: "metering", name: "flush_interval", defaultValue: "180s", summary: "how often readings are written to the journal (one fsync); a disconnect is written at once") { s, v throws(ConfigError) in
            s.flushInterval = try duration(v, in: .seconds(1) ... .seconds(3600))
        },
        Key(section: "metering", name: "directory", defaultValue: "", summary: "the metering journal (default: STATE/metering)") { s, v throws(ConfigError) in
            s.meteringDirectoryOverride = v.isEmpty ? nil : try absolutePath(v)
        },
        Key(section: "metering", name: "segment_size", defaultValue: "8M", summary: "journal segment size before a new one starts (K, M suffixes)") { s, v throws(ConfigError) in
            s.segmentBytes = try byteSize(v, in: 4096 ... (1 << 30))
        },
        Key(section: "log", name: "level", defaultValue: "info", summary: "debug, info, notice, warning, error or critical") { s, v throws(ConfigError) in
            guard let level = LogLevel(name: v) else {
                throw ConfigError(nil, "expected one of \(LogLevel.allCases.map(\.description).joined(separator: ", ")), got '\(v)'")
            }
            s.logLevel = level
        },
    ]

    /// Keys that SIGHUP can change in a running daemon; the rest need a restart.
    public static let reloadable: Set<String> = ["log.level", "metering.poll_interval"]

    /// Builds settings from parsed entries: defaults first, then each entry in order.
    /// With `only`, every other key (known or not) is skipped unchecked.
    public static func settings(from entries: [INIEntry], only: Set<String>? = nil) throws(ConfigError) -> Settings {
        var settings = Settings()
        for key in keys where !key.defaultValue.isEmpty {
            do { try key.apply(&settings, key.defaultValue) } catch { preconditionFailure("bad default for \(key.qualifiedName): \(error)") }
        }
        for entry in entries where only?.contains("\(entry.section).\(entry.key)") ?? true {
            guard let key = keys.first(where: { $0.section == entry.section && $0.name == entry.key }) else {
                throw ConfigError(entry.location, unknownKeyMessage(section: entry.section, key: entry.key))
            }
            do {
                try key.apply(&settings, entry.value)
            } catch {
                throw ConfigError(entry.location, "\(key.qualifiedName): \(error.message)")
            }
        }
        return settings
    }

    static func unknownKeyMessage(section: String, key: String) -> String {
        let sections = Set(keys.map(\.section))
        let wanted = "\(section).\(key)"
        let nearest = keys.map(\.qualifiedName).min { editDistance($0, wanted) < editDistance($1, wanted) }!
        let known = sections.contains(section) ? "unknown key '\(key)' in [\(section)]" : "unknown section [\(section)]"
        return editDistance(nearest, wanted) <= max(2, wanted.count / 3) ? "\(known); did you mean '\(nearest)'?" : known
    }

    /// Levenshtein distance, for "did you mean".
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
