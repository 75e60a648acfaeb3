import HAL
import Posix
import Synchronization
import Testing

/// A small "OpenBTS 5" CLI server for tests: TCP on 127.0.0.1 (an ephemeral port, kept
/// across restarts), 4-byte big-endian length + ASCII text each way, answering the commands
/// `OpenBTSRadio` uses like OpenBTS does. Its framing is written here again on purpose, so
/// it checks the backend's instead of sharing it.
final class FakeOpenBTS: Sendable {
    enum Response: Sendable {
        /// Answer as OpenBTS would.
        case normal
        case reply(String)
        /// Read the command, say nothing.
        case silence
        /// Send these bytes as they are (no framing added).
        case raw([UInt8])
        /// Close the connection.
        case hangUp
    }

    /// One `gprs list` MS record with its GMM context.
    struct MS: Sendable {
        var number: Int
        var imsi: String
        var up: UInt64
        var down: UInt64
        var state = "GmmRegisteredNormal"
        var age = 100
    }

    static let staticKeys: Set<String> = ["GSM.Radio.C0", "GSM.Radio.Band", "GPRS.Enable"]
    static let versionLine = "release 5.0-master+0a1b2c3d4e CommonLibs:5f6a7b8c9d+GPRS P built Jan  2 2024 \n"

    private struct State {
        var listener: TCPSocket?
        var connections: [TCPSocket] = []
        var tasks: [Task<Void, Never>] = []
        var port: UInt16 = 0
        var started = ContinuousClock.now
        var received: [String] = []
        var accepted = 0
        var ms: [MS] = []
        var config: [String: String] = ["GSM.Radio.C0": "51", "GSM.Radio.Band": "900", "GSM.Identity.MCC": "001",
                                        "GSM.Identity.MNC": "01", "GSM.Identity.LAC": "1000", "GSM.Identity.CI": "10",
                                        "GSM.Radio.PowerManager.MaxAttenDB": "10", "GSM.Radio.PowerManager.MinAttenDB": "0"]
        var script: (@Sendable (String) -> Response)?
        var uptimeReply: String?
    }

    private let state = Mutex(State())

    init(ms: [MS] = []) { state.withLock { $0.ms = ms } }

    var port: UInt16 { state.withLock { $0.port } }
    var commands: [String] { state.withLock { $0.received } }
    var connectionsAccepted: Int { state.withLock { $0.accepted } }
    var config: [String: String] { state.withLock { $0.config } }

    func setMS(_ ms: [MS]) { state.withLock { $0.ms = ms } }
    func setScript(_ script: (@Sendable (String) -> Response)?) { state.withLock { $0.script = script } }
    /// Overrides the reply to `uptime` (nil: `uptime <seconds since start> seconds`).
    func setUptimeReply(_ reply: String?) { state.withLock { $0.uptimeReply = reply } }
    func clearCommands() { state.withLock { $0.received = [] } }

    /// Listens (on the same port as before after a `stop`) as a freshly started process.
    func start() throws {
        let previous = port
        let listener = try TCPSocket.listen(port: previous)
        let accepting = Task { [self] in
            while let connection = try? await listener.accept() {
                let task = Task { await self.serve(connection) }
                state.withLock { s in s.connections.append(connection); s.tasks.append(task); s.accepted += 1 }
            }
        }
        state.withLock { s in
            s.listener = listener
            s.port = listener.localPort ?? 0
            s.started = .now
            s.tasks.append(accepting)
        }
    }

    /// Goes away like a killed process: the listener and every connection close.
    func stop() {
        let (listener, connections, tasks) = state.withLock { s in
            defer { s.listener = nil; s.connections = []; s.tasks = [] }
            return (s.listener, s.connections, s.tasks)
        }
        for task in tasks { task.cancel() }
        listener?.close()
        for connection in connections { connection.close() }
    }

    /// Closes the connections but keeps listening (the same process).
    func dropConnections() {
        let connections = state.withLock { s in defer { s.connections = [] }; return s.connections }
        for connection in connections { connection.close() }
    }

    private func serve(_ connection: TCPSocket) async {
        var buffer: [UInt8] = []
        while !Task.isCancelled {
            while buffer.count >= 4 {
                let length = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
                // OpenBTS's sign bug: a length byte of 128 or more and the command is dropped.
                guard buffer[0..<4].allSatisfy({ $0 < 128 }) else { buffer.removeAll(); break }
                guard buffer.count >= 4 + length else { break }
                let command = String(decoding: buffer[4..<(4 + length)], as: UTF8.self)
                buffer.removeFirst(4 + length)
                switch respond(to: command) {
                case .silence, .normal: break
                case .reply(let text):
                    let body = Array(text.utf8)
                    let n = UInt32(body.count)
                    try? await connection.send([UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + body)
                case .raw(let bytes):
                    try? await connection.send(bytes)
                case .hangUp:
                    connection.close()
                    return
                }
            }
            guard let bytes = try? await connection.receive(), !bytes.isEmpty else { return }
            buffer += bytes
        }
    }

    private func respond(to command: String) -> Response {
        let script = state.withLock { s in
            s.received.append(command)
            return s.script
        }
        let scripted = script?(command) ?? .normal
        guard case .normal = scripted else { return scripted }
        return .reply(standardReply(command))
    }

    /// What OpenBTS 5 answers (the subset the backend uses).
    private func standardReply(_ command: String) -> String {
        let words = command.split(separator: " ").map(String.init)
        return state.withLock { s -> String in
            switch (words.first ?? "", words.count) {
            case ("version", _): return Self.versionLine
            case ("uptime", _):
                let seconds = (ContinuousClock.now - s.started).components.seconds
                return s.uptimeReply ?? "Unix time 1700000000\nuptime \(seconds) seconds\n"
            case ("gprs", 2) where words[1] == "list":
                return s.ms.map { ms in
                    let tlli = "c00\(ms.number)f001"
                    return " MS#\(ms.number),TLLI=\(tlli),78428eca rrmode=PacketIdle Bytes:\(ms.up)up/\(ms.down)down Utilization=0%\n"
                        + "\t GMM Context: imsi=\(ms.imsi) ptmsi=0x1f00\(ms.number) tlli=0x\(tlli) state=\(ms.state) age=\(ms.age) idle=5 IPs=192.168.99.\(ms.number + 1)\n"
                }.joined()
            case ("config", 3):
                let (key, value) = (words[1], words[2])
                guard let old = s.config[key] else { return "\(key) is not a valid key\ncommand failed" }
                if value == "bad" { return "bad argument(s)" }
                if old == value { return "\(key) is already set to \"\(value)\", nothing changed\n" }
                s.config[key] = value
                let restart = Self.staticKeys.contains(key) ? "\(key) is static; change takes effect on restart\n" : ""
                return "\(key) changed from \"\(old)\" to \"\(value)\"\n" + restart
            case ("power", 2):
                guard let attenuation = Int(words[1]) else { return "bad argument(s)" }
                s.config["GSM.Radio.PowerManager.MaxAttenDB"] = words[1]
                s.config["GSM.Radio.PowerManager.MinAttenDB"] = words[1]
                return "current downlink power \(-attenuation) dB wrt full scale\n"
            case ("sgsn", 4) where words[1] == "free" && words[2] == "imsi":
                s.ms.removeAll { $0.imsi == words[3] }
                return ""
            case ("tmsis", 4) where words[1] == "delete" && words[2] == "-imsi":
                return ""
            default:
                return "command not found\n"
            }
        }
    }
}

/// The fake itself, so a backend failure is not a fake's bug.
@Suite("Fake OpenBTS CLI")
struct OpenBTSFakeCLITests {
    @Test func answersFramedCommandsOnOneConnection() async throws {
        let fake = FakeOpenBTS(ms: [.init(number: 1, imsi: "001010000000001", up: 5, down: 6)])
        try fake.start()
        defer { fake.stop() }
        let client = try await TCPSocket.connect(host: "127.0.0.1", port: fake.port, deadline: .now + .seconds(30))
        defer { client.close() }
        for command in ["version", "gprs list"] {
            try await client.send([0, 0, 0, UInt8(command.utf8.count)] + Array(command.utf8), deadline: .now + .seconds(30))
            var reply: [UInt8] = []
            while reply.count < 4 || reply.count < 4 + (Int(reply[2]) << 8 | Int(reply[3])) {
                let bytes = try await client.receive(deadline: .now + .seconds(30))
                try #require(!bytes.isEmpty)
                reply += bytes
            }
            let text = String(decoding: reply.dropFirst(4), as: UTF8.self)
            #expect(text.hasPrefix(command == "version" ? "release 5.0" : " MS#1,TLLI="))
        }
        #expect(fake.commands == ["version", "gprs list"])
        #expect(fake.connectionsAccepted == 1)
    }
}
