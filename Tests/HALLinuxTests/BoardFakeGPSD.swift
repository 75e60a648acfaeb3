import Posix
import Synchronization

/// A scripted stand-in for gpsd on a loopback TCP port, for the client's unit tests (the peer
/// tests use the real gpsd). On connect it greets with VERSION like gpsd; after the client's
/// `?WATCH` it sends DEVICES and WATCH; `broadcast` sends lines to every client; with
/// `answers` off it stays silent after the greeting, like a stuck gpsd. `stop` closes everything; `start` listens again
/// on the same port.
final class FakeGPSD: Sendable {
    static let version = #"{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}"#
    static let watch = #"{"class":"WATCH","enable":true,"json":true,"nmea":false,"raw":0}"#

    private struct State {
        var listener: TCPSocket?
        var clients: [TCPSocket] = []
        var tasks: [Task<Void, Never>] = []
        var port: UInt16 = 0
        var received: [String] = []
        var devices: [String] = ["/dev/ttyFAKE0"]
        var answers = true
        var connections = 0
    }

    private let state = Mutex(State())

    init() throws { try start() }

    var port: UInt16 { state.withLock { $0.port } }
    /// Every line clients sent, in order.
    var received: [String] { state.withLock { $0.received } }
    var clientCount: Int { state.withLock { $0.clients.count } }

    func setDevices(_ devices: [String]) { state.withLock { $0.devices = devices } }
    func setAnswers(_ answers: Bool) { state.withLock { $0.answers = answers } }
    /// How many connections were accepted so far.
    var connections: Int { state.withLock { $0.connections } }

    func start() throws {
        let previous = port
        let listener = try TCPSocket.listen(host: "127.0.0.1", port: previous)
        let task = Task { [self] in
            while let client = try? await listener.accept() {
                state.withLock { $0.clients.append(client); $0.connections += 1 }
                let serving = Task { await serve(client) }
                state.withLock { $0.tasks.append(serving) }
            }
        }
        state.withLock { s in
            s.listener = listener
            s.port = listener.localPort ?? 0
            s.tasks.append(task)
        }
    }

    /// Closes the listener and every connection (like gpsd exiting).
    func stop() {
        let (listener, clients, tasks) = state.withLock { s in
            defer { s.listener = nil; s.clients = []; s.tasks = [] }
            return (s.listener, s.clients, s.tasks)
        }
        listener?.close()
        for client in clients { client.close() }
        for task in tasks { task.cancel() }
    }

    /// Sends `line` (plus `\r\n`, as gpsd ends its lines) to every connected client.
    func broadcast(_ line: String) async {
        let clients = state.withLock { $0.clients }
        for client in clients { try? await client.send(Array((line + "\r\n").utf8), deadline: .now + .seconds(30)) }
    }

    static func tpv(mode: Int, lat: Double? = nil, lon: Double? = nil, alt: Double? = nil, time: String? = "2026-01-02T03:04:05.000Z") -> String {
        var fields = [#""class":"TPV""#, #""device":"/dev/ttyFAKE0""#, #""mode":\#(mode)"#]
        if let time { fields.append(#""time":"\#(time)""#) }
        if let lat { fields.append(#""lat":\#(lat)"#) }
        if let lon { fields.append(#""lon":\#(lon)"#) }
        if let alt { fields.append(#""altMSL":\#(alt)"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    private func serve(_ client: TCPSocket) async {
        try? await client.send(Array((Self.version + "\r\n").utf8), deadline: .now + .seconds(30))
        var pending: [UInt8] = []
        while let bytes = try? await client.receive(), !bytes.isEmpty {
            pending += bytes
            // gpsd commands end with ';' (a newline may follow).
            while let end = pending.firstIndex(of: UInt8(ascii: ";")) {
                let command = String(decoding: pending[...end], as: UTF8.self).trimmingPrefix { $0 == "\n" || $0 == "\r" }
                pending.removeSubrange(...end)
                let (devices, answers) = state.withLock { s in
                    s.received.append(String(command))
                    return (s.devices, s.answers)
                }
                var replies: [String] = []
                if !answers {
                    continue
                } else if command.hasPrefix("?WATCH") {
                    let list = devices.map { #"{"class":"DEVICE","path":"\#($0)","activated":"2026-01-02T03:04:00.000Z"}"# }
                    replies = [#"{"class":"DEVICES","devices":[\#(list.joined(separator: ","))]}"#, Self.watch]
                } else if command.hasPrefix("?VERSION") {
                    replies = [Self.version]
                }
                for reply in replies { try? await client.send(Array((reply + "\r\n").utf8), deadline: .now + .seconds(30)) }
            }
        }
    }
}
