import HAL
import Posix

/// `[radio]`: the cellular cell.
public struct RadioSettings: Sendable, Equatable {
    public enum Backend: String, Sendable, CaseIterable { case openbts }
    public var enabled = false
    public var backend = Backend.openbts
    public var host = "127.0.0.1"
    public var port: UInt16 = 49300
    public var cell = CellConfiguration(band: .gsm900, channel: 51, mcc: "001", mnc: "01", lac: 1000, cellID: 10, transmitPowerDBm: 20)
    /// Output power at 0 dB attenuation, from the board's calibration.
    public var maximumOutputDBm = 20.0
}

/// `[board]`: the board's own devices.
public struct BoardSettings: Sendable, Equatable {
    /// How the radio front end is found.
    public enum FrontEnd: Sendable, Equatable {
        case none
        /// A USB device by vendor and product id (through libusb).
        case usb(vendor: UInt16, product: UInt16)
        /// A file that exists while the front end is present (hal-sim's board).
        case presenceFile(String)
    }

    public var watchdog: String?
    public var thermalRoot = "/sys/class/thermal"
    public var procRoot = "/proc"
    public var frontEnd = FrontEnd.none
    public var gpsd: IPv4Endpoint? = IPv4Endpoint(host: "127.0.0.1", port: 2947)
}

extension ConfigSchema {
    static let radioKeys: [Key] = [
        Key(section: "radio", name: "enabled", defaultValue: "no", summary: "drive the cellular radio") { s, v throws(ConfigError) in
            s.radio.enabled = try boolean(v)
        },
        Key(section: "radio", name: "backend", defaultValue: "openbts", summary: "the radio stack: openbts") { s, v throws(ConfigError) in
            s.radio.backend = try oneOf(v, RadioSettings.Backend.allCases)
        },
        Key(section: "radio", name: "host", defaultValue: "127.0.0.1", summary: "the radio stack's control endpoint (OpenBTS CLI.Interface)") { s, v throws(ConfigError) in
            guard IPv4Endpoint("\(v):1") != nil else { throw ConfigError(nil, "expected an IPv4 address, got '\(v)'") }
            s.radio.host = v
        },
        Key(section: "radio", name: "port", defaultValue: "49300", summary: "its port (OpenBTS CLI.Port)") { s, v throws(ConfigError) in
            s.radio.port = UInt16(try integer(v, in: 1...65535))
        },
        Key(section: "radio", name: "band", defaultValue: "900", summary: "850, 900, 1800 or 1900 (GSM.Radio.Band; a change needs a stack restart)") { s, v throws(ConfigError) in
            s.radio.cell.band = try oneOf(v, RadioBand.allCases.filter { $0 != .lteU })
        },
        Key(section: "radio", name: "channel", defaultValue: "51", summary: "ARFCN (GSM.Radio.C0; a change needs a stack restart)") { s, v throws(ConfigError) in
            s.radio.cell.channel = try integer(v, in: 0...1023)
        },
        Key(section: "radio", name: "mcc", defaultValue: "001", summary: "mobile country code") { s, v throws(ConfigError) in s.radio.cell.mcc = v },
        Key(section: "radio", name: "mnc", defaultValue: "01", summary: "mobile network code") { s, v throws(ConfigError) in s.radio.cell.mnc = v },
        Key(section: "radio", name: "lac", defaultValue: "1000", summary: "location area code") { s, v throws(ConfigError) in
            s.radio.cell.lac = try integer(v, in: 1...65533)
        },
        Key(section: "radio", name: "cell_id", defaultValue: "10", summary: "cell identity") { s, v throws(ConfigError) in
            s.radio.cell.cellID = try integer(v, in: 0...65535)
        },
        Key(section: "radio", name: "transmit_power", defaultValue: "20", summary: "dBm; at most 20 (100 mW, the BaseStation's rating)") { s, v throws(ConfigError) in
            guard let dBm = Double(v), dBm.isFinite else { throw ConfigError(nil, "expected a power in dBm, got '\(v)'") }
            guard dBm <= CellConfiguration.maximumTransmitPowerDBm else {
                throw ConfigError(nil, "\(v) dBm is above the BaseStation's rating of 20 dBm (100 mW)")
            }
            s.radio.cell.transmitPowerDBm = dBm
        },
        Key(section: "radio", name: "max_output_power", defaultValue: "20", summary: "dBm the front end puts out at 0 dB attenuation (calibration)") { s, v throws(ConfigError) in
            guard let dBm = Double(v), dBm.isFinite, (-10...40).contains(dBm) else { throw ConfigError(nil, "expected a power in dBm from -10 to 40, got '\(v)'") }
            s.radio.maximumOutputDBm = dBm
        },
        Key(section: "radio", name: "capacity", defaultValue: "10", summary: "subscribers attached at once; more are refused and logged") { s, v throws(ConfigError) in
            s.radio.cell.capacity = try integer(v, in: 1...256)
        },
    ]

    static let boardKeys: [Key] = [
        Key(section: "board", name: "watchdog", defaultValue: "", summary: "hardware watchdog device (e.g. /dev/watchdog); empty: none") { s, v throws(ConfigError) in
            s.board.watchdog = v.isEmpty ? nil : try absolutePath(v)
        },
        Key(section: "board", name: "thermal_root", defaultValue: "/sys/class/thermal", summary: "where the thermal zones are") { s, v throws(ConfigError) in
            s.board.thermalRoot = try absolutePath(v)
        },
        Key(section: "board", name: "proc_root", defaultValue: "/proc", summary: "where /proc/stat and /proc/pressure are") { s, v throws(ConfigError) in
            s.board.procRoot = try absolutePath(v)
        },
        Key(section: "board", name: "frontend", defaultValue: "", summary: "the radio front end: usb:VVVV:PPPP (libusb), a presence file path (hal-sim), or empty") { s, v throws(ConfigError) in
            s.board.frontEnd = try frontEnd(v)
        },
        Key(section: "board", name: "gpsd", defaultValue: "127.0.0.1:2947", summary: "gpsd's HOST:PORT; empty: no GPS") { s, v throws(ConfigError) in
            guard !v.isEmpty else { s.board.gpsd = nil; return }
            guard let endpoint = IPv4Endpoint(v) else { throw ConfigError(nil, "expected HOST:PORT with an IPv4 host, got '\(v)'") }
            s.board.gpsd = endpoint
        },
    ]

    static func frontEnd(_ v: String) throws(ConfigError) -> BoardSettings.FrontEnd {
        if v.isEmpty { return .none }
        if v.hasPrefix("/") { return .presenceFile(v) }
        let parts = v.split(separator: ":")
        guard parts.count == 3, parts[0] == "usb", let vendor = UInt16(parts[1], radix: 16), let product = UInt16(parts[2], radix: 16),
              parts[1].count == 4, parts[2].count == 4 else {
            throw ConfigError(nil, "expected usb:VVVV:PPPP (hex vendor and product id) or an absolute path, got '\(v)'")
        }
        return .usb(vendor: vendor, product: product)
    }
}
