import HAL
import Logging
import Posix

/// hal-sim's own control socket (`DIR/hal-sim.sock`), used by `hal-sim ctl`.
///
/// The protocol: a Unix stream connection carries one request line (the ctl words after
/// `--root DIR`, joined by single spaces, e.g. `inject counter-reset mac:02:…`) and one
/// reply: a first line `OK` or `ERR <message>`, then the payload, then the server closes.
public final class ControlServer: Sendable {
    public static let maximumRequestBytes = 4096

    public let path: String
    private let world: World
    private let describe: @Sendable () -> [(String, String)]
    private let logger: Logger
    private let listener: UnixSocket

    /// `describe` adds fixed facts (seed, speed, scenario…) to `status`, as JSON-ready pairs.
    public init(world: World, path: String, logger: Logger, describe: @escaping @Sendable () -> [(String, String)]) throws(SystemError) {
        self.world = world
        self.path = path
        self.logger = logger
        self.describe = describe
        listener = try UnixSocket(.stream)
        do {
            try listener.bind(path, mode: 0o660)
            try listener.listen()
        } catch {
            listener.close()
            throw error
        }
    }

    /// Accepts connections until `stop()`.
    public func start() {
        Task {
            while true {
                guard let connection = try? await listener.accept() else { return }
                Task { await self.serve(connection) }
            }
        }
    }

    public func stop() {
        listener.close()
    }

    private func serve(_ connection: UnixSocket) async {
        defer { connection.close() }
        var request: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while !request.contains(UInt8(ascii: "\n")) && request.count <= Self.maximumRequestBytes {
            guard let bytes = try? await connection.receive(maxBytes: 1024, deadline: deadline), !bytes.isEmpty else { break }
            request += bytes
        }
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let reply: String
        switch handle(line.split(separator: " ").map(String.init)) {
        case .success(let payload): reply = "OK\n" + payload
        case .failure(let error): reply = "ERR \(error.message)\n"
        }
        try? await connection.send(Array(reply.utf8), deadline: ContinuousClock.now + .seconds(5))
    }

    /// Answers one request.
    public func handle(_ words: [String]) -> Result<String, WorldError> {
        switch words.first {
        case "truth":
            let entries = world.truth()
            return .success(words.contains("--json") ? TruthFormat.json(entries) : TruthFormat.table(entries))
        case "sessions":
            // Ended sessions (the last 4,096), oldest first, one JSON object a line.
            return .success(world.sessionHistory().map { $0.json + "\n" }.joined())
        case "status":
            return .success(statusJSON())
        case "inject":
            return inject(Array(words.dropFirst()))
        default:
            return .failure(WorldError("unknown request '\(words.joined(separator: " "))'"))
        }
    }

    /// What each event takes, for error messages.
    static let eventUsage: [String: String] = [
        "hostapd-restart": "hostapd-restart [SECONDS] (0 to 3600)",
        "counter-reset": "counter-reset [all|random|ID]",
        "wrap32": "wrap32 [all|random|ID] [SECONDS] (SECONDS above 0, at most 3600)",
        "radio-restart": "radio-restart [SECONDS] (0 to 3600)",
        "thermal-spike": "thermal-spike [SECONDS] (above 0, at most 3600)",
        "frontend-unplug": "frontend-unplug", "frontend-plug": "frontend-plug", "gps-lost": "gps-lost", "gps-fix": "gps-fix",
    ]

    private func inject(_ words: [String]) -> Result<String, WorldError> {
        let verb = words.first ?? ""
        switch verb {
        case "pause":
            guard words.count == 1 else { return .failure(WorldError("too many arguments for pause")) }
            world.pause()
            return .success("paused\n")
        case "resume":
            guard words.count == 1 else { return .failure(WorldError("too many arguments for resume")) }
            world.resume()
            return .success("resumed\n")
        default:
            guard let usage = Self.eventUsage[verb] else {
                return .failure(WorldError("unknown event '\(verb)' (expected \(Self.eventUsage.keys.sorted().joined(separator: ", ")), pause, resume)"))
            }
            guard let action = FaultAction(words: words.map { Substring($0) }) else {
                return .failure(WorldError("usage: \(usage); got '\(words.joined(separator: " "))'"))
            }
            do throws(WorldError) {
                let reply = try world.inject(action)
                logger.notice("injected: \(words.joined(separator: " ")): \(reply.trimmingWhitespace())")
                return .success(reply)
            } catch {
                return .failure(error)
            }
        }
    }

    private func statusJSON() -> String {
        let s = world.status()
        let t = Int(s.timeOfDay)
        let clock = [t / 3600, t / 60 % 60, t % 60].map { $0 < 10 ? "0\($0)" : "\($0)" }.joined(separator: ":")
        var fields: [(String, String)] = [
            ("sim_seconds", formatNumber((s.simSeconds * 1000).rounded() / 1000)),
            ("sim_time", jsonString("day \(s.day) \(clock)")),
            ("tide", formatNumber((s.tideLevel * 1000).rounded() / 1000)),
            ("paused", String(s.paused)),
            ("connected", String(s.connected)),
            ("subscribers", String(s.subscribers)),
            ("hostapd", jsonString(s.hostapdUp ? "up" : "down")),
            ("ap", jsonString(s.apEnabled ? "enabled" : "disabled")),
            ("ues", String(s.ues)),
            ("ues_attached", String(s.uesAttached)),
            ("ue_rejections", String(s.ueRejections)),
            ("radio", jsonString(s.radioUp ? "up" : "down")),
        ]
        let board = world.board()
        let watchdog = board.watchdog
        let lastAgo = watchdog.lastKeepalive.map { String(Int(((board.realTime - $0) * 1000).rounded())) } ?? "null"
        fields.append(("watchdog", "{\"keepalives\":\(watchdog.keepalives),\"last_ms_ago\":\(lastAgo),\"missed\":\(watchdog.missed),"
            + "\"magic_close\":\(watchdog.magicClose),\"armed\":\(watchdog.armed),\"timeout_s\":\(formatNumber(WatchdogStatus.timeout))}"))
        fields.append(("thermal", "{" + board.zones.map { "\(jsonString($0.name)):\($0.milliCelsius)" }.joined(separator: ",") + "}"))
        fields.append(("frontend", jsonString(board.frontendPresent ? "present" : "absent")))
        fields.append(("gps", jsonString(board.gpsFix ? "fix" : "lost")))
        fields += describe()
        return "{" + fields.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}\n"
    }
}

/// The `hal-sim ctl` side of the control socket.
public enum ControlClient {
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// Nothing listens at the socket: no hal-sim runs at that root.
        case notRunning(String)
        case failed(String)

        public var description: String {
            switch self {
            case .notRunning(let root): "no hal-sim is running at \(root)"
            case .failed(let message): message
            }
        }
    }

    /// Sends `words` as one request and returns the payload of an `OK` reply.
    public static func request(_ words: [String], root: String) async throws(Failure) -> String {
        let path = "\(root)/hal-sim.sock"
        let deadline = ContinuousClock.now + .seconds(10)
        var reply: [UInt8] = []
        do {
            let socket = try UnixSocket(.stream)
            defer { socket.close() }
            do {
                try await socket.connect(path, deadline: deadline)
            } catch let error as SystemError where error.errno == .noEntry || error.errno == .connectionRefused {
                throw Failure.notRunning(root)
            }
            try await socket.send(Array((words.joined(separator: " ") + "\n").utf8), deadline: deadline)
            while true {
                let bytes = try await socket.receive(deadline: deadline)
                if bytes.isEmpty { break }
                reply += bytes
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .failed("\(path): \(error)")
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard let newline = text.firstIndex(of: "\n") else { throw .failed("\(path): no reply") }
        let status = text[..<newline]
        if status == "OK" { return String(text[text.index(after: newline)...]) }
        if status.hasPrefix("ERR ") { throw .failed(String(status.dropFirst(4))) }
        throw .failed("\(path): unexpected reply '\(status)'")
    }
}

/// What one subscriber really sent (`up`) and received (`down`) over all its sessions.
public struct TruthEntry: Sendable, Equatable {
    public var id: SubscriberID
    public var upBytes: UInt64
    public var downBytes: UInt64

    public init(id: SubscriberID, upBytes: UInt64, downBytes: UInt64) {
        self.id = id
        self.upBytes = upBytes
        self.downBytes = downBytes
    }

    /// `{"id":"mac:…","kind":"wifi","up_bytes":N,"down_bytes":N}`, keys in that order.
    public var json: String {
        "{\"id\":\(jsonString(id.description)),\"kind\":\(jsonString(id.kind)),\"up_bytes\":\(upBytes),\"down_bytes\":\(downBytes)}"
    }
}

/// Formats of the ground truth printed by `hal-sim ctl truth`.
public enum TruthFormat {
    /// A JSON array, one object a line, sorted by id.
    public static func json(_ entries: [TruthEntry]) -> String {
        guard !entries.isEmpty else { return "[]\n" }
        return "[\n" + entries.map(\.json).joined(separator: ",\n") + "\n]\n"
    }

    /// A table for people, with a total line.
    public static func table(_ entries: [TruthEntry]) -> String {
        var rows = [["SUBSCRIBER", "KIND", "UP_BYTES", "DOWN_BYTES"]]
        rows += entries.map { [$0.id.description, $0.id.kind, String($0.upBytes), String($0.downBytes)] }
        let up = entries.reduce(UInt64(0)) { $0 + $1.upBytes }
        let down = entries.reduce(UInt64(0)) { $0 + $1.downBytes }
        rows.append(["total (\(entries.count))", "", String(up), String(down)])
        let widths = (0..<4).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column >= 2 ? padding + cell : cell + padding
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// `text` as a JSON string literal.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
