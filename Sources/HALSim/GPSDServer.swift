#if canImport(Glibc)
import Glibc
#endif
import Logging
import Posix
import Synchronization

/// Emulates gpsd 3.22's JSON protocol (as captured from a real gpsd 3.22 fed by gpsfake):
/// TCP on 127.0.0.1 at a free port; `VERSION` on connect; requests `?WATCH={…};`,
/// `?WATCH;`, `?POLL;`, `?VERSION;`, `?DEVICES;`; every reply a JSON object and `\r\n`.
///
/// `?WATCH={"enable":true,"json":true};` answers DEVICES, WATCH, DEVICE, then a TPV at once and
/// every real second after (mode 3 at the scenario's position, `time` from the wall clock;
/// without a fix `{"class":"TPV","device":…,"mode":1}`), until `"enable":false`.
public final class GPSDServer: Sendable {
    public static let device = "/dev/ttyACM0"
    public static let maximumRequestBytes = 4096

    struct State: Sendable {
        var listener: TCPSocket?
        var connections: [Int: TCPSocket] = [:]
        var nextConnection = 0
    }

    public let host = "127.0.0.1"
    public let port: UInt16
    private let world: World
    private let logger: Logger
    private let state = Mutex(State())
    private let activated: String

    /// Listens on a free port.
    public init(world: World, logger: Logger) throws(SystemError) {
        self.world = world
        self.logger = logger
        let listener = try TCPSocket.listen(host: "127.0.0.1", port: 0)
        port = listener.localPort ?? 0
        activated = GPSDFormats.isoTime(milliseconds: SystemClock.wallMilliseconds())
        state.withLock { $0.listener = listener }
    }

    public func start() {
        guard let listener = state.withLock({ $0.listener }) else { return }
        Task {
            while let connection = try? await listener.accept() {
                let id = state.withLock { s -> Int in
                    s.nextConnection += 1
                    s.connections[s.nextConnection] = connection
                    return s.nextConnection
                }
                Task { await self.serve(connection, id: id) }
            }
        }
        logger.info("gpsd listening on \(host):\(port)")
    }

    public func stop() {
        let sockets = state.withLock { s -> [TCPSocket] in
            defer { s.listener = nil; s.connections = [:] }
            return [s.listener].compactMap { $0 } + Array(s.connections.values)
        }
        for socket in sockets { socket.close() }
    }

    private func serve(_ connection: TCPSocket, id: Int) async {
        defer {
            connection.close()
            state.withLock { _ = $0.connections.removeValue(forKey: id) }
        }
        var watching = false
        var nextReport = ContinuousClock.now
        var buffer: [UInt8] = []
        guard await send([GPSDFormats.version], on: connection) else { return }
        while true {
            let bytes: [UInt8]
            do {
                bytes = try await connection.receive(maxBytes: 4096, deadline: watching ? nextReport : .now + .seconds(3600))
            } catch let error as SystemError where error.errno == .timedOut {
                if watching {
                    guard await send([report()], on: connection) else { return }
                    nextReport = max(nextReport + .seconds(1), .now)
                }
                continue
            } catch {
                return
            }
            if bytes.isEmpty { return }
            buffer += bytes
            while let end = buffer.firstIndex(where: { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: "\n") }) {
                let request = String(decoding: buffer[..<end], as: UTF8.self).trimmingWhitespace()
                buffer.removeFirst(end + 1)
                guard !request.isEmpty else { continue }
                var lines: [String] = []
                switch GPSDFormats.Request(String(request)) {
                case .watch(let enable):
                    if let enable, enable != watching {
                        watching = enable
                        if enable {
                            lines += [GPSDFormats.devices(activated: activated)]
                            nextReport = .now
                        }
                    }
                    lines.append(GPSDFormats.watch(enabled: watching))
                    if enable == true { lines.append(GPSDFormats.deviceLine(activated: activated)) }
                case .poll: lines.append(GPSDFormats.poll(world.board(), wallMilliseconds: SystemClock.wallMilliseconds()))
                case .version: lines.append(GPSDFormats.version)
                case .devices: lines.append(GPSDFormats.devices(activated: activated))
                case .unknown: lines.append(GPSDFormats.error("Unrecognized request '\(request)'"))
                }
                guard await send(lines, on: connection) else { return }
            }
            if buffer.count > Self.maximumRequestBytes { return }
        }
    }

    private func report() -> String {
        GPSDFormats.tpv(world.board(), wallMilliseconds: SystemClock.wallMilliseconds())
    }

    private func send(_ lines: [String], on connection: TCPSocket) async -> Bool {
        let bytes = Array(lines.map { $0 + "\r\n" }.joined().utf8)
        do { try await connection.send(bytes, deadline: .now + .seconds(10)) } catch { return false }
        return true
    }
}

/// gpsd 3.22's JSON objects, field for field as a real gpsd 3.22 prints them.
enum GPSDFormats {
    enum Request {
        /// `?WATCH;` (nil: report only) or `?WATCH={...}` with its `enable`.
        case watch(enable: Bool?)
        case poll, version, devices, unknown

        init(_ text: String) {
            switch text {
            case "?POLL": self = .poll
            case "?VERSION": self = .version
            case "?DEVICES": self = .devices
            case "?WATCH": self = .watch(enable: nil)
            case _ where text.hasPrefix("?WATCH="):
                let json = text.dropFirst(7).filter { $0 != " " }
                self = .watch(enable: json.contains("\"enable\":false") ? false : json.contains("\"enable\":true") ? true : nil)
            default: self = .unknown
            }
        }
    }

    static let version = #"{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}"#

    static func deviceObject(activated: String) -> String {
        #"{"class":"DEVICE","path":"\#(GPSDServer.device)","driver":"NMEA0183","activated":"\#(activated)","flags":1,"native":0,"bps":9600,"parity":"N","stopbits":1,"cycle":1.00}"#
    }

    static func devices(activated: String) -> String { #"{"class":"DEVICES","devices":["# + deviceObject(activated: activated) + "]}" }
    static func deviceLine(activated: String) -> String { deviceObject(activated: activated) }

    static func watch(enabled: Bool) -> String {
        #"{"class":"WATCH","enable":\#(enabled),"json":true,"nmea":false,"raw":0,"scaled":false,"timing":false,"split24":false,"pps":false}"#
    }

    static func error(_ message: String) -> String { #"{"class":"ERROR","message":"# + jsonString(message) + "}" }

    static func tpv(_ board: BoardSnapshot, wallMilliseconds: Int64) -> String {
        guard board.gpsFix else { return #"{"class":"TPV","device":"\#(GPSDServer.device)","mode":1}"# }
        let p = board.position
        let time = isoTime(milliseconds: wallMilliseconds / 1000 * 1000)
        return #"{"class":"TPV","device":"\#(GPSDServer.device)","mode":3,"time":"\#(time)","ept":0.005,"#
            + #""lat":\#(c("%.9f", p.latitude)),"lon":\#(c("%.9f", p.longitude)),"altHAE":\#(c("%.4f", p.altitude + 46.9)),"#
            + #""altMSL":\#(c("%.4f", p.altitude)),"alt":\#(c("%.4f", p.altitude)),"epv":34.500,"track":0.0000,"magtrack":4.0590,"#
            + #""magvar":4.1,"speed":0.000,"climb":0.000,"geoidSep":46.900,"eph":17.100,"sep":34.200}"#
    }

    static func poll(_ board: BoardSnapshot, wallMilliseconds: Int64) -> String {
        let dop = board.gpsFix ? #""vdop":1.50,"hdop":0.90,"pdop":1.80"# : #""vdop":99.99,"hdop":99.99,"pdop":99.99"#
        return #"{"class":"POLL","time":"\#(isoTime(milliseconds: wallMilliseconds))","active":1,"tpv":["#
            + tpv(board, wallMilliseconds: wallMilliseconds)
            + #"],"gst":[{"class":"GST","device":"\#(GPSDServer.device)"}],"sky":[{"class":"SKY","device":"\#(GPSDServer.device)",\#(dop),"#
            + #""nSat":\#(board.gpsFix ? 8 : 0),"uSat":\#(board.gpsFix ? 8 : 0)}]}"#
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    static func isoTime(milliseconds: Int64) -> String {
        var t = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ n: Int, _ width: Int) -> String { let s = String(n); return String(repeating: "0", count: max(0, width - s.count)) + s }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(Int(milliseconds % 1000), 3))Z"
    }

    /// printf-style formatting of one number.
    static func c(_ format: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
