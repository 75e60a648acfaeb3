import FoundationEssentials
import HAL
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A small datagram "hostapd" for tests: binds `DIR/IFACE`, answers like hostapd 2.10,
/// and lets the test script replies, push events, go away and come back.
final class FakeHostapd: Sendable {
    enum Response: Sendable {
        /// Answer as hostapd would.
        case normal
        /// Send these events to attached monitors, then this reply.
        case reply(String, eventsFirst: [String] = [])
        /// Say nothing.
        case silence
    }

    struct Station: Sendable {
        var mac: String
        /// The `key=value` lines after the MAC.
        var body: String
    }

    private struct State {
        var socket: UnixSocket?
        var server: Task<Void, Never>?
        var monitors: [String] = []
        var received: [(command: String, sender: String?)] = []
        var stations: [Station] = []
        var apState = "ENABLED"
        var script: (@Sendable (String) -> Response)?
    }

    let directory: String
    let interface: String
    var path: String { directory + "/" + interface }
    private let state = Mutex(State())

    init(directory: String, interface: String = "wlan0", stations: [Station] = []) {
        self.directory = directory
        self.interface = interface
        state.withLock { $0.stations = stations }
    }

    /// Binds the socket (a new socket file each time) and starts answering.
    func start() throws {
        try FileSystem.createDirectory(directory)
        let socket = try UnixSocket(.datagram)
        try socket.bind(path)
        let server = Task { [self] in
            while !Task.isCancelled {
                guard let (bytes, sender) = try? await socket.receiveFrom() else { return }
                handle(String(decoding: bytes, as: UTF8.self), from: sender, on: socket)
            }
        }
        state.withLock { s in
            s.socket = socket
            s.server = server
            s.monitors = []
        }
    }

    /// Goes away: `graceful` sends `CTRL-EVENT-TERMINATING` first, as hostapd does on SIGTERM.
    func stop(graceful: Bool) {
        if graceful { broadcast("<3>AP-DISABLED ") ; broadcast("<3>CTRL-EVENT-TERMINATING ") }
        let (socket, server) = state.withLock { s in
            defer { s.socket = nil; s.server = nil; s.monitors = [] }
            return (s.socket, s.server)
        }
        server?.cancel()
        socket?.close()
    }

    /// Sends `event` (e.g. `<3>AP-STA-CONNECTED aa:…`) to every attached client.
    func broadcast(_ event: String) {
        let (socket, monitors) = state.withLock { ($0.socket, $0.monitors) }
        for monitor in monitors { try? socket?.send(Array(event.utf8), to: monitor) }
    }

    func setScript(_ script: (@Sendable (String) -> Response)?) { state.withLock { $0.script = script } }
    func setStations(_ stations: [Station]) { state.withLock { $0.stations = stations } }
    func addStation(_ station: Station) { state.withLock { $0.stations.append(station) } }

    var commands: [String] { state.withLock { $0.received.map(\.command) } }
    var clientPaths: [String] { state.withLock { Array(Set($0.received.compactMap(\.sender))) } }
    var monitorCount: Int { state.withLock { $0.monitors.count } }

    private func handle(_ command: String, from sender: String?, on socket: UnixSocket) {
        let script = state.withLock { s in
            s.received.append((command, sender))
            return s.script
        }
        guard let sender else { return }
        var response = script?(command) ?? .normal
        if case .normal = response { response = standardResponse(command, from: sender) }
        guard case .reply(let reply, let events) = response else { return }
        for event in events { broadcast(event) }
        try? socket.send(Array(reply.utf8), to: sender)
    }

    /// What hostapd 2.10 answers (the subset the backend and these tests use).
    private func standardResponse(_ command: String, from sender: String) -> Response {
        let words = command.split(separator: " ").map(String.init)
        return state.withLock { s -> Response in
            switch words.first ?? "" {
            case "PING": return .reply("PONG\n")
            case "ATTACH": s.monitors.append(sender); return .reply("OK\n")
            case "DETACH":
                guard let index = s.monitors.firstIndex(of: sender) else { return .reply("FAIL\n") }
                s.monitors.remove(at: index)
                return .reply("OK\n")
            case "STATUS": return .reply("state=\(s.apState)\nphy=\nfreq=0\nbss[0]=\(interface)\nnum_sta[0]=\(s.stations.count)\n")
            case "STA-FIRST": return .reply(s.stations.first.map { "\($0.mac)\n\($0.body)" } ?? "")
            case "STA-NEXT", "STA":
                guard words.count == 2, let index = s.stations.firstIndex(where: { $0.mac == words[1] }) else { return .reply("FAIL\n") }
                let target = words[0] == "STA" ? index : index + 1
                return .reply(target < s.stations.count ? "\(s.stations[target].mac)\n\(s.stations[target].body)" : "")
            case "DEAUTHENTICATE":
                guard words.count >= 2 else { return .reply("FAIL\n") }
                let had = s.stations.contains { $0.mac == words[1] }
                s.stations.removeAll { $0.mac == words[1] }
                return .reply("OK\n", eventsFirst: had ? ["<3>AP-STA-DISCONNECTED \(words[1])"] : [])
            case "ENABLE":
                if s.apState == "ENABLED" { return .reply("FAIL\n") }
                s.apState = "ENABLED"
                return .reply("OK\n", eventsFirst: ["<3>AP-ENABLED "])
            case "DISABLE":
                if s.apState == "DISABLED" { return .reply("FAIL\n") }
                s.apState = "DISABLED"
                return .reply("OK\n", eventsFirst: ["<3>AP-DISABLED "])
            case "RELOAD_WPA_PSK": return .reply("OK\n")
            default: return .reply("UNKNOWN COMMAND\n")
            }
        }
    }
}

/// Collects a backend's events for assertions.
final class EventLog: Sendable {
    private let storage = Mutex<[HALEvent]>([])

    var sink: HALEventSink { { [self] event in storage.withLock { $0.append(event) } } }
    var events: [HALEvent] { storage.withLock { $0 } }
    var names: [String] { events.map(\.name) }

    /// Waits (bounded) until `predicate` holds for the events so far.
    @discardableResult
    func wait(for seconds: Double = 30, _ predicate: ([HALEvent]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if predicate(events) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return predicate(events)
    }

    func count(_ name: String) -> Int { names.filter { $0 == name }.count }
}

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ prefix: String = "qlt-hal") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
