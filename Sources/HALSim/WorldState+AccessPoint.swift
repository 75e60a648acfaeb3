import HAL

/// The emulated hostapd's side of the world: its lifecycle, its commands, the PSK file and
/// the faults that hit its driver.
extension WorldState {
    static let broadcast = MACAddress(bytes: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])!
    /// How far past 2^32 a wrap32 burst carries the byte counters (ordinary traffic comes on top).
    static let wrapMargin: UInt64 = 65_536

    // MARK: - hostapd lifecycle

    /// hostapd terminates: stations are dropped (their Accounting-Stops say Admin-Reboot),
    /// monitors hear it go, Accounting-Off, the socket vanishes.
    mutating func restartHostapd(downFor seconds: Double) throws(WorldError) {
        guard hostapd == .running else { throw WorldError("hostapd is already down") }
        if apEnabled {
            dropAllStations(cause: .adminReboot)
            emit(3, "AP-DISABLED ")
            accountingOff()
        }
        emit(3, "CTRL-EVENT-TERMINATING ")
        events.append(.stopped)
        hostapd = .down(until: realTime + seconds)
    }

    /// hostapd is back: a fresh socket, the PSK file read again, stations reassociate soon.
    mutating func startHostapd() {
        hostapd = .running
        apEnabled = true
        events.append(.started)
        accountingOn()
        if let entries = pskLoader?() { reloadPSK(entries) }
        emit(3, "AP-ENABLED ")
        stationsMayReturn()
    }

    /// `ENABLE`; false when already enabled (hostapd answers FAIL).
    mutating func enableAP() -> Bool {
        guard hostapd == .running, !apEnabled else { return false }
        apEnabled = true
        accountingOn()
        emit(3, "AP-ENABLED ")
        stationsMayReturn()
        return true
    }

    /// `DISABLE`; false when already disabled. The stations' Stops carry no cause (hostapd's
    /// `hostapd_free_stas` sets none); Accounting-Off follows.
    mutating func disableAP() -> Bool {
        guard hostapd == .running, apEnabled else { return false }
        dropAllStations(cause: nil)
        apEnabled = false
        emit(3, "AP-DISABLED ")
        accountingOff()
        return true
    }

    mutating func dropAllStations(cause: AccountingEvent.TerminateCause?) {
        for i in subscribers.indices where !subscribers[i].isLTE { endSession(i, linger: false, cause: cause, why: .sourceStopped) }
        lingering.removeAll()
        stationOrder.removeAll()
    }

    /// Stations that want to be online find the AP again after a few seconds each.
    mutating func stationsMayReturn() {
        for i in subscribers.indices where subscribers[i].wantsOnline && !subscribers[i].isLTE {
            subscribers[i].notBefore = max(subscribers[i].notBefore, simTime + subscribers[i].random.uniform(1, 6))
        }
    }

    // MARK: - Commands

    /// `DEAUTHENTICATE <mac>[ args]`; false when the address does not parse (hostapd answers FAIL).
    mutating func deauthenticate(_ argument: String) -> Bool {
        emit(2, "CTRL_IFACE DEAUTHENTICATE \(argument)")
        guard let mac = MACAddress(argument.prefix(17)) else { return false }
        if let i = indexByMAC[mac], subscribers[i].session != nil {
            kick(i)
        } else if lingering[mac] != nil {
            lingering[mac]?.until = realTime + Self.lingerSeconds
        } else if mac == Self.broadcast {
            for i in subscribers.indices where subscribers[i].session != nil && !subscribers[i].isLTE {
                endSession(i, linger: false)
                subscribers[i].notBefore = simTime + configuration.scenario.reconnectDelay
            }
            lingering.removeAll()
            stationOrder.removeAll()
        }
        return true
    }

    /// Takes a freshly read PSK file: provisions keys to devices whose MAC just got an entry,
    /// and kicks stations whose per-station key is no longer listed (RELOAD_WPA_PSK).
    mutating func reloadPSK(_ entries: [PSKEntry]) {
        let before = Set(pskEntries.filter { !$0.isWildcard }.map(\.mac))
        var newest: [MACAddress: String] = [:]
        for entry in entries where !entry.isWildcard { newest[entry.mac] = entry.key }
        for (mac, key) in newest where !before.contains(mac) {
            if let i = indexByMAC[mac] { subscribers[i].knownKey = key }
        }
        pskEntries = entries
        for i in subscribers.indices {
            guard let key = subscribers[i].session?.key, let mac = subscribers[i].mac else { continue }
            if !entries.contains(where: { ($0.mac == mac || $0.isWildcard) && $0.key == key }) { kick(i) }
        }
    }

    /// Whether station `i` may associate, and with which per-station key.
    func admission(_ i: Int) -> (allowed: Bool, key: String?, keyID: String?) {
        guard let known = subscribers[i].knownKey, let mac = subscribers[i].mac else { return (true, nil, nil) }
        let entry = pskEntries.last { $0.mac == mac && $0.key == known } ?? pskEntries.last { $0.isWildcard && $0.key == known }
        guard let entry else { return (false, nil, nil) }
        return (true, known, entry.keyID)
    }

    // MARK: - Faults

    mutating func fire(_ action: FaultAction) {
        switch action {
        case .hostapdRestart(let seconds): try? restartHostapd(downFor: seconds)
        case .counterReset(let target): _ = try? resetCounters(target)
        case .wrap32(let target, let seconds): if configuration.counterWidth == .bits32 { _ = try? startWrapBursts(target, realSeconds: seconds) }
        case .radioRestart(let seconds): try? restartRadio(downFor: seconds)
        case .thermalSpike(let seconds): spikeThermal(seconds: seconds)
        case .frontend(let present): _ = setFrontend(present: present)
        case .gps(let fix): _ = setGPSFix(fix)
        }
    }

    /// The driver's counters of the targets restart at zero; truth is untouched. Returns how many.
    mutating func resetCounters(_ target: FaultTarget) throws(WorldError) -> Int {
        let targets = try resolve(target)
        for i in targets {
            guard var s = subscribers[i].session else { continue }
            s.upAdjust = 0 &- s.upBytes
            s.downAdjust = 0 &- s.downBytes
            s.upPacketAdjust = 0 &- s.upPackets
            s.downPacketAdjust = 0 &- s.downPackets
            subscribers[i].session = s
        }
        return targets.count
    }

    /// Starts a wrap32 burst on each target: real extra traffic, up and down, just enough to
    /// carry its 32-bit byte counters `wrapMargin` past 2^32, spread evenly over `realSeconds`
    /// of real time (that many times the speed in simulated time; nothing moves while paused).
    /// The bytes move in `moveTraffic` like any others, so truth always equals what the
    /// counters counted. A station already in a burst keeps it (with `all` or `random` it is
    /// skipped; named, it is refused). Returns how many bursts started.
    mutating func startWrapBursts(_ target: FaultTarget, realSeconds: Double) throws(WorldError) -> Int {
        guard configuration.counterWidth == .bits32 else { throw WorldError("wrap32 needs 32-bit counters (hal-sim runs with --counter-bits 64)") }
        guard realSeconds > 0, realSeconds <= 3600 else { throw WorldError("wrap32 takes a number of seconds (above 0, at most 3600)") }
        let targets = try resolve(target)
        if case .subscriber(let id) = target, let i = targets.first, subscribers[i].session?.burst != nil {
            throw WorldError("\(id) is already in a wrap32 burst")
        }
        let wrap = UInt64(1) << 32
        var started = 0
        for i in targets {
            guard var s = subscribers[i].session, s.burst == nil else { continue }
            let up = wrap - ((s.upBytes &+ s.upAdjust) % wrap) + Self.wrapMargin
            let down = wrap - ((s.downBytes &+ s.downAdjust) % wrap) + Self.wrapMargin
            s.burst = WrapBurst(start: simTime, duration: realSeconds * configuration.speed, up: up, down: down)
            subscribers[i].session = s
            started += 1
        }
        return started
    }

    mutating func resolve(_ target: FaultTarget) throws(WorldError) -> [Int] {
        // Counter faults hit the Wi-Fi driver: stations only.
        let connected = subscribers.indices.filter { subscribers[$0].session != nil && !subscribers[$0].isLTE }
            .sorted { subscribers[$0].mac! < subscribers[$1].mac! }
        switch target {
        case .all:
            return connected
        case .random:
            guard !connected.isEmpty else { return [] }
            return [connected[Int(faultRandom.next() % UInt64(connected.count))]]
        case .subscriber(let id):
            guard let mac = id.macAddress, let i = indexByMAC[mac] else { throw WorldError("no subscriber \(id)") }
            guard subscribers[i].session != nil else { throw WorldError("\(id) is not connected") }
            return [i]
        }
    }

    // MARK: - Snapshots

    /// The stations as hostapd lists them (newest first), lingering entries included.
    func stationSnapshots() -> [StationSnapshot] {
        stationOrder.compactMap { mac in
            guard let i = indexByMAC[mac] else { return nil }
            if let session = subscribers[i].session { return snapshot(i, session) }
            guard let entry = lingering[mac] else { return nil }
            return StationSnapshot(mac: mac, aid: entry.aid, associated: false)
        }
    }

    func snapshot(_ i: Int, _ session: Session) -> StationSnapshot {
        let s = subscribers[i]
        let mask = configuration.counterWidth.maximum
        guard let mac = s.mac else { return StationSnapshot(mac: MACAddress(bytes: [0, 0, 0, 0, 0, 0])!, aid: 0, associated: false) }
        let second = UInt64(max(0, simTime))
        let activity = max(0.02, tide.level(at: absolute(simTime)) * session.multiplier)
        let inactive = min(60_000, Int(SimRandom.hashUnit(UInt64(i), second, 1) * 400 / activity))
        let jitter = Int(SimRandom.hashUnit(UInt64(i), second / 5, 2) * 7) - 3
        var snapshot = StationSnapshot(mac: mac, aid: session.aid, associated: true)
        snapshot.rxBytes = (session.upBytes &+ session.upAdjust) & mask
        snapshot.txBytes = (session.downBytes &+ session.downAdjust) & mask
        snapshot.rxPackets = (session.upPackets &+ session.upPacketAdjust) & mask
        snapshot.txPackets = (session.downPackets &+ session.downPacketAdjust) & mask
        snapshot.inactiveMilliseconds = inactive
        snapshot.signalDBm = s.signalDBm + jitter
        // Real seconds since association (the daemon compares it with its monotonic clock).
        snapshot.connectedSeconds = UInt64(max(0, realTime - session.startReal))
        snapshot.keyID = session.keyID
        snapshot.exactUpBytes = session.upBytes
        snapshot.exactDownBytes = session.downBytes
        return snapshot
    }
}

/// A request the world refuses (a ctl injection that makes no sense now).
public struct WorldError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
