import HAL
import Logging
import Posix
import Synchronization

/// Emulates hostapd 2.10's control interface: a Unix datagram socket at
/// `<ctrl_interface>/<interface>`, one reply datagram per request sent back to the
/// requester's bound address, and events to attached monitors.
///
/// The world decides what happens; this server only speaks the protocol and follows the
/// world's `.stopped` / `.started` events (the socket vanishes and reappears).
public final class HostapdServer: Sendable {
    /// An attached monitor (`ATTACH`): its address, level threshold and failed sends.
    struct Monitor: Sendable {
        var address: String
        var level = 3
        var errors = 0
    }

    struct State: Sendable {
        var socket: UnixSocket?
        /// In attach order, duplicates kept (hostapd does not check for them).
        var monitors: [Monitor] = []
        /// Bumped on every stop, so that a receive loop of an older socket knows to end.
        var generation = 0
    }

    public let directory: String
    public let interface: String
    public let pskPath: String
    public var socketPath: String { "\(directory)/\(interface)" }
    private let world: World
    private let logger: Logger
    private let state = Mutex(State())

    public init(world: World, directory: String, interface: String, pskPath: String, logger: Logger) {
        self.world = world
        self.directory = directory
        self.interface = interface
        self.pskPath = pskPath
        self.logger = logger
    }

    /// Creates the ctrl_interface directory and the socket, and starts serving.
    public func start() throws(SystemError) {
        try makeDirectory(directory, mode: 0o770)
        let socket = try bindDatagramSocket(at: socketPath, mode: 0o660)
        let generation = state.withLock { s -> Int in
            s.socket = socket
            s.monitors = []
            return s.generation
        }
        Task { await self.serve(socket, generation: generation) }
        logger.info("hostapd control socket listening at \(socketPath)")
    }

    /// Closes and removes the socket (and the directory if it is empty); monitors are forgotten.
    public func stop() {
        let socket = state.withLock { s -> UnixSocket? in
            s.generation += 1
            s.monitors = []
            defer { s.socket = nil }
            return s.socket
        }
        guard let socket else { return }
        FileSystem.remove(socketPath)
        socket.close()
        removeDirectoryIfEmpty(directory)
        logger.info("hostapd control socket closed")
    }

    /// The world's event sink.
    public func deliver(_ events: [APEvent]) {
        for event in events {
            switch event {
            case .message(let level, let text): broadcast(level: level, text: text)
            case .stopped: stop()
            case .started:
                do { try start() } catch { logger.error("hostapd did not come back: \(error)") }
            }
        }
    }

    private func serve(_ socket: UnixSocket, generation: Int) async {
        while state.withLock({ $0.generation == generation }) {
            let datagram: (bytes: [UInt8], sender: String?)
            do { datagram = try await socket.receiveFrom(maxBytes: 4096) } catch { return }
            let reply = respond(to: datagram.bytes, from: datagram.sender)
            // A requester that did not bind an address gets nothing, as with hostapd.
            guard let sender = datagram.sender, state.withLock({ $0.generation == generation }) else { continue }
            do { try socket.send(Array(reply.utf8), to: sender) } catch { logger.debug("reply to \(sender): \(error)") }
        }
    }

    /// hostapd's answer to one request datagram. Commands are matched exactly as hostapd
    /// does (no trimming: `PING\n` is an unknown command).
    func respond(to bytes: [UInt8], from sender: String?) -> String {
        let command = String(decoding: bytes, as: UTF8.self)
        let address = sender ?? ""
        switch command {
        case "PING": return "PONG\n"
        case "ATTACH": return attach(address)
        case "DETACH": return detach(address)
        case "STATUS": return HostapdReplies.status(accessPoint())
        case "STA-FIRST": return world.stations().first.map(HostapdReplies.station) ?? ""
        case "RELOAD_WPA_PSK": return reloadPSK()
        case "ENABLE": return world.enableAP() ? "OK\n" : "FAIL\n"
        case "DISABLE": return world.disableAP() ? "OK\n" : "FAIL\n"
        default: break
        }
        if command.hasPrefix("ATTACH ") { return attach(address) }
        if let argument = command.dropping(prefix: "LEVEL ") { return setLevel(address, argument) }
        if let argument = command.dropping(prefix: "STA-NEXT ") { return nextStation(after: argument) }
        if let argument = command.dropping(prefix: "STA ") { return station(argument) }
        if let argument = command.dropping(prefix: "DEAUTHENTICATE ") { return world.deauthenticate(String(argument)) ? "OK\n" : "FAIL\n" }
        return "UNKNOWN COMMAND\n"
    }

    private func accessPoint() -> HostapdReplies.AccessPoint {
        let status = world.status()
        let config = world.configuration
        return HostapdReplies.AccessPoint(enabled: status.apEnabled, interface: config.interface, bssid: config.bssid,
                                          ssid: config.ssid, stationCount: world.stations().count)
    }

    private func station(_ argument: Substring) -> String {
        // `STA <mac> <anything>` asks for a sub-report this hostapd build does not have.
        guard let mac = MACAddress(argument.prefix(17)), argument.count == 17 else { return "FAIL\n" }
        return world.stations().first { $0.mac == mac }.map(HostapdReplies.station) ?? "FAIL\n"
    }

    private func nextStation(after argument: Substring) -> String {
        guard let mac = MACAddress(argument.prefix(17)) else { return "FAIL\n" }
        let stations = world.stations()
        guard let index = stations.firstIndex(where: { $0.mac == mac }) else { return "FAIL\n" }
        // After the last entry hostapd replies with an empty datagram.
        return index + 1 < stations.count ? HostapdReplies.station(stations[index + 1]) : ""
    }

    private func reloadPSK() -> String {
        let entries: [PSKEntry]
        do {
            entries = try PSKFile.parse(String(decoding: try FileSystem.readFile(pskPath), as: UTF8.self))
        } catch {
            logger.warning("RELOAD_WPA_PSK: \(pskPath): \(error)")
            return "FAIL\n"
        }
        world.reloadPSK(entries)
        return "OK\n"
    }

    // MARK: - Monitors

    private func attach(_ address: String) -> String {
        state.withLock { $0.monitors.append(Monitor(address: address)) }
        return "OK\n"
    }

    private func detach(_ address: String) -> String {
        state.withLock { s in
            guard let index = s.monitors.firstIndex(where: { $0.address == address }) else { return "FAIL\n" }
            s.monitors.remove(at: index)
            return "OK\n"
        }
    }

    private func setLevel(_ address: String, _ argument: Substring) -> String {
        state.withLock { s in
            guard let index = s.monitors.firstIndex(where: { $0.address == address }) else { return "FAIL\n" }
            s.monitors[index].level = Int(argument.prefix { $0.isNumber || $0 == "-" }) ?? 0
            return "OK\n"
        }
    }

    /// Sends `<level>text` to every monitor whose threshold it meets. A monitor whose address
    /// is gone is dropped at once; one that fails more than ten times in a row, too.
    private func broadcast(level: Int, text: String) {
        let datagram = Array("<\(level)>\(text)".utf8)
        state.withLock { s in
            guard let socket = s.socket else { return }
            var index = 0
            while index < s.monitors.count {
                guard level >= s.monitors[index].level else { index += 1; continue }
                do throws(SystemError) {
                    try socket.send(datagram, to: s.monitors[index].address)
                    s.monitors[index].errors = 0
                } catch {
                    s.monitors[index].errors += 1
                    if s.monitors[index].errors > 10 || error.errno == .noEntry {
                        s.monitors.remove(at: index)
                        continue
                    }
                }
                index += 1
            }
        }
    }
}

extension String {
    /// The rest after `prefix`, or nil when the string does not start with it.
    func dropping(prefix: String) -> Substring? {
        hasPrefix(prefix) ? self[index(startIndex, offsetBy: prefix.count)...] : nil
    }
}
