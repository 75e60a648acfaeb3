import FoundationEssentials
import HAL

/// One line of gpsd's JSON protocol (3.x), as far as this client cares.
///
/// gpsd answers `?WATCH={"enable":true,"json":true};` with `VERSION`, `DEVICES`, `WATCH`,
/// then per device a `DEVICE`, and every cycle a `TPV` (time-position-velocity):
/// `{"class":"TPV","device":"/dev/ttyUSB0","mode":3,"time":"…Z","lat":52.52,"lon":13.405,"altMSL":34.0,…}`.
/// `mode` is 0 (unknown, no data yet), 1 (no fix), 2 (2D) or 3 (3D). Other classes (SKY,
/// PPS, …) are `.other`.
enum GPSDReport: Equatable, Sendable {
    case version(release: String)
    /// The devices gpsd has open (paths); empty when it has none.
    case devices([String])
    case watch(enabled: Bool)
    /// A device appeared (`activated` set) or went away (`activated` 0 or missing).
    case device(path: String, active: Bool)
    case tpv(GPSDTPV)
    /// gpsd did not like what it was sent.
    case error(String)
    case other(String)

    /// Parses one line (without its line end). Throws `GPSDProtocolError` for a line that is
    /// not a gpsd JSON object with a `class`.
    static func parse(_ line: some Collection<UInt8>) throws(GPSDProtocolError) -> GPSDReport {
        let message: Message
        do {
            message = try JSONDecoder().decode(Message.self, from: Data(line))
        } catch {
            throw GPSDProtocolError(line: String(decoding: line, as: UTF8.self), reason: "not a gpsd JSON object (\(error))")
        }
        switch message.class {
        case "VERSION":
            return .version(release: message.release ?? "?")
        case "DEVICES":
            return .devices((message.devices ?? []).compactMap(\.path))
        case "WATCH":
            return .watch(enabled: message.enable ?? false)
        case "DEVICE":
            return .device(path: message.path ?? "?", active: message.activated?.isActive ?? false)
        case "TPV":
            return .tpv(GPSDTPV(device: message.device, mode: message.mode ?? 0, latitude: message.lat, longitude: message.lon,
                                altitude: message.altMSL ?? message.alt, time: message.time))
        case "ERROR":
            return .error(message.message ?? "(no message)")
        default:
            return .other(message.class)
        }
    }

    /// The fields of every class this client reads; the rest are ignored.
    private struct Message: Decodable {
        let `class`: String
        let release: String?
        let devices: [Device]?
        let enable: Bool?
        let path: String?
        let activated: Activated?
        let device: String?
        let mode: Int?
        let lat: Double?
        let lon: Double?
        let alt: Double?
        let altMSL: Double?
        let time: String?
        let message: String?

        struct Device: Decodable {
            let path: String?
        }
    }

    /// `activated` is a time string when the device is open, and 0 (or absent) when it was closed.
    private enum Activated: Decodable {
        case time(String), number(Double)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self = .time(text) } else { self = .number(try container.decode(Double.self)) }
        }

        var isActive: Bool {
            switch self {
            case .time(let text): !text.isEmpty
            case .number(let value): value != 0
            }
        }
    }
}

/// A TPV report's fields that make a fix.
struct GPSDTPV: Equatable, Sendable {
    var device: String?
    var mode: Int
    var latitude: Double?
    var longitude: Double?
    var altitude: Double?
    var time: String?

    /// The fix this report gives, named after `source` (e.g. `gpsd 127.0.0.1:2947`).
    /// A 2D/3D mode without both coordinates counts as no fix.
    func fix(source: String) -> GPSFix {
        let origin = device.map { "\(source) \($0)" } ?? source
        guard mode >= 2, let latitude, let longitude, latitude.isFinite, longitude.isFinite,
              abs(latitude) <= 90, abs(longitude) <= 180 else {
            return GPSFix(mode: .none, time: time, source: origin)
        }
        return GPSFix(mode: mode >= 3 ? .threeD : .twoD, latitude: latitude, longitude: longitude,
                      altitude: mode >= 3 ? altitude : nil, time: time, source: origin)
    }

    /// Why this report is not a fix, in words (nil when it is one).
    var noFixReason: String? {
        let from = device.map { " from \($0)" } ?? ""
        switch mode {
        case 0: return "gpsd has no fix data yet\(from) (TPV mode 0)"
        case 1: return "gpsd reports no fix\(from) (TPV mode 1: no satellites in view or not enough)"
        default:
            if latitude == nil || longitude == nil { return "gpsd reports mode \(mode)\(from) without a position" }
            return nil
        }
    }
}

/// A line from gpsd this client cannot use.
struct GPSDProtocolError: Error, CustomStringConvertible {
    let line: String
    let reason: String
    var description: String { "\(reason): \(SysfsText.quoted(line))" }
}

/// Splits gpsd's byte stream into lines (`\r\n` or `\n`), refusing absurdly long ones.
struct GPSDLineBuffer {
    /// gpsd's longest reports (SKY with many satellites) are a few KiB.
    static let maximumLineLength = 65536
    private var pending: [UInt8] = []

    /// Adds received bytes and returns the complete lines, without their line ends (empty ones skipped).
    mutating func append(_ bytes: [UInt8]) throws(GPSDProtocolError) -> [[UInt8]] {
        pending += bytes
        var lines: [[UInt8]] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if !line.isEmpty { lines.append(line) }
        }
        if pending.count > Self.maximumLineLength {
            let start = String(decoding: pending.prefix(40), as: UTF8.self)
            pending = []
            throw GPSDProtocolError(line: start, reason: "a line longer than \(Self.maximumLineLength) bytes")
        }
        return lines
    }
}
