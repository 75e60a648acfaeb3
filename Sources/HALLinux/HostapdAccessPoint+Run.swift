import HAL
import Logging
import Posix
import Synchronization

extension HostapdAccessPoint {
    /// Connects, ATTACHes and reports; reconnects with back-off whenever hostapd goes away
    /// (a failed send, `CTRL-EVENT-TERMINATING`, or a command or keepalive `PING` without a
    /// reply). Returns only when cancelled, after closing (and unlinking) its client socket.
    ///
    /// Events: on the first connection `.accessPointEnabled` or `.accessPointDisabled` (the
    /// stations already there are not announced: ask `stations()`); then hostapd's station and
    /// AP events as they come; on a loss `.degraded`; on reconnecting, if hostapd was
    /// restarted (its socket file is a new one), `.stationDisconnected` for every station it
    /// had and `.countersReset`, then `.restored`, the AP state, and `.stationConnected` for
    /// every station now authorized that was not before. The sink is called in order, from
    /// one task at a time, and must not block.
    public func run(events: @escaping HALEventSink) async throws {
        try core.withLock { c throws(HALError) in
            guard !c.running else { throw HALError(.rejected, device: name, "run is already active") }
            c.running = true
        }
        defer { core.withLock { $0 = Core(link: .down, connection: nil, running: false, capabilities: $0.capabilities) } }
        let relay = EventRelay(sink: events) { [self] link in self.core.withLock { if $0.connection != nil { $0.link = link } } }
        var backoff = timing.initialBackoff
        var lastReady: SocketFileIdentity?? = .none  // .some(x) once a session was ready
        var lastFailure: String?  // logged once at warning, repeats at debug

        while !Task.isCancelled {
            let socket: WPAControlSocket
            do {
                socket = try WPAControlSocket.open(socketPath, clientDirectory: clientDirectory)
            } catch {
                let message = "\(error)"
                if message != lastFailure { logger.warning("\(name): cannot connect: \(message); retrying") }
                else { logger.debug("\(name): cannot connect: \(message)") }
                lastFailure = message
                guard await pause(&backoff) else { break }
                continue
            }
            let identity = SocketFileIdentity.of(socketPath)
            let connection = HostapdConnection(socket: socket, device: name, commandTimeout: commandTimeout, logger: logger)
            let previous: Reconnection? = lastReady.map { Reconnection(instanceChanged: $0 == nil || identity == nil || $0 != identity) }
            let (ready, reason) = await session(connection, relay: relay, reconnecting: previous)
            if ready { lastReady = .some(identity) }
            if Task.isCancelled {
                socket.sendNow("DETACH")
                socket.close()
                break
            }
            socket.close()
            let everReady = lastReady != nil
            relay.goOffline { [name] in
                let wasReady = self.core.withLock { c in
                    defer { c.connection = nil; c.link = everReady ? .degraded : .down }
                    return c.connection != nil
                }
                return wasReady ? [.degraded(device: name, reason: reason)] : []
            }
            if ready {
                logger.warning("\(name): lost hostapd: \(reason); reconnecting")
                backoff = timing.initialBackoff
                lastFailure = nil
            } else {
                let message = "connected but could not set up: \(reason)"
                if message != lastFailure { logger.warning("\(name): \(message)") } else { logger.debug("\(name): \(message)") }
                lastFailure = message
            }
            guard await pause(&backoff) else { break }
        }
    }

    struct Reconnection {
        /// The socket file is a new one: hostapd restarted, its stations and counters are gone.
        let instanceChanged: Bool
    }

    /// Sleeps `backoff` and doubles it (up to the maximum); false when cancelled.
    private func pause(_ backoff: inout Duration) async -> Bool {
        do { try await Task.sleep(for: backoff) } catch { return false }
        backoff = min(backoff * 2, timing.maximumBackoff)
        return true
    }

    /// Runs one connection until it breaks or the task is cancelled; returns whether it got
    /// ready and why it ended.
    private func session(_ connection: HostapdConnection, relay: EventRelay, reconnecting: Reconnection?) async -> (Bool, String) {
        var ready = false
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await connection.readLoop { relay.deliver($0) } }
                group.addTask { try await connection.waitUntilBroken() }
                try await setUp(connection, relay: relay, reconnecting: reconnecting)
                ready = true
                group.addTask { [timing] in try await connection.keepalive(every: timing.keepaliveInterval) }
                _ = try await group.next()
                group.cancelAll()
            }
        } catch {
            if connection.failure == nil { connection.markBroken("\(error)") }
        }
        connection.markBroken("the connection ended")
        return (ready, connection.failure ?? "the connection ended")
    }

    /// ATTACH, read the AP state and the stations, then report and go live.
    private func setUp(_ connection: HostapdConnection, relay: EventRelay, reconnecting: Reconnection?) async throws {
        let attach = try await connection.request("ATTACH")
        guard HostapdReply.isOK(attach) else {
            throw HALError(.protocolViolation, device: name, "ATTACH answered \(HostapdReply.quoted(attach))")
        }
        let status = HostapdReply.fields(try await connection.request("STATUS"))
        guard let apState = status["state"] else {
            throw HALError(.protocolViolation, device: name, "STATUS has no state= line")
        }
        let enabled = apState == "ENABLED"
        let stations = try await walkStations(connection)
        let authorized = Set(stations.filter { $0.isAssociated && $0.info.authorized }.map(\.info.mac))
        relay.goLive { [name, logger] known in
            var events: [HALEvent] = []
            if let reconnecting {
                let gone = reconnecting.instanceChanged ? known : known.subtracting(authorized)
                events += gone.sorted().map { .stationDisconnected(.mac($0), finalCounters: nil) }
                known.subtract(gone)
                if reconnecting.instanceChanged { events.append(.countersReset(device: name)) }
                events.append(.restored(device: name))
            }
            events.append(enabled ? .accessPointEnabled : .accessPointDisabled)
            if reconnecting != nil {
                events += authorized.subtracting(known).sorted().map { .stationConnected(.mac($0)) }
            }
            known = authorized
            self.core.withLock { c in
                c.connection = connection
                c.link = enabled ? .up : .down
            }
            let restarted = reconnecting?.instanceChanged == true ? " (hostapd restarted)" : ""
            logger.notice("\(name): \(reconnecting == nil ? "connected" : "restored")\(restarted); state=\(apState), \(authorized.count) station(s)")
            return events
        }
    }
}

/// Turns hostapd events into HAL events, in order, and keeps the set of stations believed
/// connected. While a connection is being set up, events are held and replayed after the
/// set-up report, so the sink never sees a station event before the `.restored` it follows.
final class EventRelay: Sendable {
    private struct State {
        var live = false
        var held: [HostapdEvent] = []
        var known: Set<MACAddress> = []
    }

    private let state = Mutex(State())
    private let sink: HALEventSink
    private let setLink: @Sendable (LinkState) -> Void

    init(sink: @escaping HALEventSink, setLink: @escaping @Sendable (LinkState) -> Void) {
        self.sink = sink
        self.setLink = setLink
    }

    /// An event from the reader.
    func deliver(_ event: HostapdEvent) {
        state.withLock { s in
            guard s.live else { s.held.append(event); return }
            for translated in translate(event, &s.known) { sink(translated) }
        }
    }

    /// Reports the set-up (`prelude` may adjust the known stations), replays held events, goes live.
    func goLive(_ prelude: (inout Set<MACAddress>) -> [HALEvent]) {
        state.withLock { s in
            for event in prelude(&s.known) { sink(event) }
            for event in s.held { for translated in translate(event, &s.known) { sink(translated) } }
            s.held = []
            s.live = true
        }
    }

    /// Stops delivering (held events of a dead connection are dropped) and reports `final()`.
    func goOffline(_ final: () -> [HALEvent]) {
        state.withLock { s in
            s.live = false
            s.held = []
            for event in final() { sink(event) }
        }
    }

    /// hostapd reports AP-STA-CONNECTED / -DISCONNECTED exactly when a station's authorized
    /// flag flips, so they alternate; the known set drops repeats of what set-up already told.
    private func translate(_ event: HostapdEvent, _ known: inout Set<MACAddress>) -> [HALEvent] {
        switch event {
        case .stationConnected(let mac, _):
            return known.insert(mac).inserted ? [.stationConnected(.mac(mac))] : []
        case .stationDisconnected(let mac):
            return known.remove(mac) != nil ? [.stationDisconnected(.mac(mac), finalCounters: nil)] : []
        case .enabled:
            setLink(.up)
            return [.accessPointEnabled]
        case .disabled:
            setLink(.down)
            return [.accessPointDisabled]
        case .terminating, .other:
            return []
        }
    }
}
