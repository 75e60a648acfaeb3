import HAL

/// Everything the simulated world knows, changed only under `World`'s lock.
///
/// Two clocks: `realTime` (seconds the world has been running; hostapd's, OpenBTS's and the
/// board's timers use it) and `simTime` (simulated seconds since the start; `speed` times
/// faster, frozen while paused). Every scheduled change happens at an exact simulated time,
/// so the schedule and the bytes moved by any moment do not depend on how the caller slices
/// time into ticks.
///
/// `subscribers` holds the Wi-Fi stations first, then the UEs.
struct WorldState: Sendable {
    enum HostapdPhase: Sendable, Equatable {
        case running
        /// Terminated; comes back when `realTime` reaches `until`.
        case down(until: Double)
    }

    /// A station hostapd kicked off: it keeps its entry (no flags) until `until` (real time).
    struct Lingering: Sendable {
        let aid: Int
        var until: Double
    }

    /// How long hostapd keeps a deauthenticated station's entry (AP_MAX_INACTIVITY_AFTER_DEAUTH).
    static let lingerSeconds = 5.0
    /// Bounded memory of finished sessions.
    static let historyLimit = 4_096

    let configuration: WorldConfiguration
    let tide: Tide
    /// Arrivals per away subscriber per tide-second (tide level 1 for one second).
    let arrivalRate: Double
    let pskLoader: (@Sendable () -> [PSKEntry]?)?

    var subscribers: [Subscriber] = []
    var indexByMAC: [MACAddress: Int] = [:]
    var simTime: Double = 0
    var realTime: Double = 0
    var paused = false
    var hostapd: HostapdPhase = .running
    var apEnabled = true
    /// hostapd's station list order: the newest entry first (it prepends), lingering ones included.
    var stationOrder: [MACAddress] = []
    var lingering: [MACAddress: Lingering] = [:]
    var pskEntries: [PSKEntry] = []
    var faultTimes: [Double?]
    var faultRandom: SimRandom
    var events: [APEvent] = []
    var radioEvents: [RadioEvent] = []
    var notices: [WorldNotice] = []
    var history: [SessionRecord] = []
    var radio = RadioState()
    var board: BoardState
    /// Bytes moved since the last board update (all subscribers, and UEs alone).
    var movedBytes: UInt64 = 0
    var movedLTEBytes: UInt64 = 0
    /// Whether hostapd sends RADIUS accounting (`enableAccounting`); off, nothing is recorded.
    var accountingEnabled = false
    var accountingEvents: [AccountingEvent] = []
    /// Acct-Session-Ids (hostapd draws them at random; here from their own seeded stream,
    /// so they never change anyone's schedule).
    var accountingRandom: SimRandom
    /// hostapd's own Acct-Session-Id for Accounting-On/Off, new each time it starts.
    var hostapdAccountingSession: UInt64 = 0

    init(configuration: WorldConfiguration, pskLoader: (@Sendable () -> [PSKEntry]?)?) {
        self.configuration = configuration
        self.pskLoader = pskLoader
        let scenario = configuration.scenario
        tide = scenario.tide
        // Per subscriber, from the scenario's own population: `--subscribers` keeps everyone's
        // habits, so the load grows with the population.
        arrivalRate = scenario.arrivalsPerHour / 3600 / Double(scenario.subscribers)
        faultTimes = scenario.faults.map { $0.at }
        faultRandom = SimRandom(seed: configuration.seed, stream: 0xFA17)
        accountingRandom = SimRandom(seed: configuration.seed, stream: 0xACC7)
        hostapdAccountingSession = accountingRandom.next()
        board = BoardState(thermal: ThermalState(radioUp: true, attenuation: radio.config.attenuation))
        var taken: Set<MACAddress> = []
        var imsis: Set<String> = []
        let mccmnc = radio.config[OpenBTSConfig.mcc] + radio.config[OpenBTSConfig.mnc]
        for index in 0..<(configuration.subscribers + configuration.ues) {
            var subscriber = index < configuration.subscribers
                ? Subscriber(index: index, seed: configuration.seed, taken: &taken)
                : Subscriber(ueIndex: index - configuration.subscribers, seed: configuration.seed, mccmnc: mccmnc, taken: &imsis)
            // Start in the steady state of the tide at the start: online with probability λL/(1+λL).
            let busy = arrivalRate * tide.level(at: absolute(0)) * scenario.meanSession
            if subscriber.random.unit() < busy / (1 + busy) {
                subscriber.wantsOnline = true
                subscriber.nextChange = sessionLength(&subscriber.random)
            } else {
                subscriber.nextChange = arrivalTime(after: 0, random: &subscriber.random)
            }
            if let mac = subscriber.mac { indexByMAC[mac] = index }
            subscribers.append(subscriber)
        }
        if let entries = pskLoader?() { reloadPSK(entries) }
        reconcile()
        events.removeAll()
        notices.removeAll()
    }

    // MARK: - Time

    /// Seconds on the tide's clock (from midnight of day 0) for simulated time `t`.
    func absolute(_ t: Double) -> Double { configuration.scenario.startOfDay + t }

    var apAvailable: Bool { hostapd == .running && apEnabled }

    mutating func advance(realSeconds dt: Double) {
        guard dt > 0 else { return }
        realTime += dt
        if case .down(let until) = hostapd, realTime >= until { startHostapd() }
        if case .down(let until) = radio.phase, realTime >= until, board.frontendPresent { startRadio() }
        for (mac, entry) in lingering where entry.until <= realTime {
            lingering[mac] = nil
            stationOrder.removeAll { $0 == mac }
        }
        if !paused {
            let end = simTime + dt * configuration.speed
            while let next = nextEventTime(), next <= end {
                moveTraffic(to: next)
                applyDueChanges()
            }
            moveTraffic(to: end)
            reconcile()
        }
        updateBoard(dt: dt)
    }

    /// The earliest scheduled change after now.
    func nextEventTime() -> Double? {
        var next = Double.infinity
        for s in subscribers {
            next = min(next, s.nextChange)
            if s.wantsOnline && s.session == nil && s.notBefore > simTime { next = min(next, s.notBefore) }
            if let switchAt = s.session?.link?.switchAt { next = min(next, switchAt) }
        }
        for time in faultTimes { if let time { next = min(next, time) } }
        return next.isFinite ? max(next, simTime) : nil
    }

    mutating func applyDueChanges() {
        for i in subscribers.indices {
            if let switchAt = subscribers[i].session?.link?.switchAt, switchAt <= simTime { switchMSRecord(i) }
            while subscribers[i].nextChange <= simTime {
                let at = subscribers[i].nextChange
                subscribers[i].wantsOnline.toggle()
                subscribers[i].nextChange = subscribers[i].wantsOnline
                    ? at + sessionLength(&subscribers[i].random)
                    : arrivalTime(after: at, random: &subscribers[i].random)
            }
        }
        for (index, fault) in configuration.scenario.faults.enumerated() {
            guard let due = faultTimes[index], due <= simTime else { continue }
            faultTimes[index] = fault.every.map { due + $0 }
            fire(fault.action)
        }
        reconcile()
    }

    /// Brings every station's association and every UE's attachment in line with its wishes
    /// and the state of the AP and the radio.
    mutating func reconcile() {
        for i in subscribers.indices {
            let s = subscribers[i]
            if s.session != nil && !s.wantsOnline {
                // The station leaves by itself (its own deauthentication: User-Request).
                if s.isLTE { detach(i, why: .left) } else { endSession(i, linger: false, cause: .userRequest, why: .left) }
            } else if s.session == nil && s.wantsOnline && simTime >= s.notBefore {
                if s.isLTE {
                    if radioAvailable { attach(i) }
                } else if apAvailable {
                    let admission = admission(i)
                    if admission.allowed { associate(i, key: admission.key, keyID: admission.keyID) }
                }
            }
        }
    }

    // MARK: - Schedule

    func sessionLength(_ random: inout SimRandom) -> Double {
        max(5, random.exponential(mean: configuration.scenario.meanSession))
    }

    /// The next arrival after `t`: an exponential amount of tide-weighted time, so arrivals
    /// thin out at night and bunch up in the evening.
    func arrivalTime(after t: Double, random: inout SimRandom) -> Double {
        let work = random.exponential(mean: 1) / arrivalRate
        let target = tide.cumulative(absolute(t)) + work
        return max(t, tide.time(atCumulative: target) - configuration.scenario.startOfDay)
    }

    // MARK: - Traffic

    /// Moves every associated station's bytes up to simulated time `t`: its ordinary traffic
    /// and any wrap32 burst. Each byte lands in the session's counters and the subscriber's
    /// truth in the same step.
    mutating func moveTraffic(to t: Double) {
        guard t > simTime else { return }
        let cumulative = tide.cumulative(absolute(t))
        let scale = configuration.scenario.trafficScale
        for i in subscribers.indices {
            guard var session = subscribers[i].session else { continue }
            let work = max(0, cumulative - session.startCumulative) * session.multiplier * scale
            let up = UInt64(subscribers[i].upRate * work)
            let down = UInt64(subscribers[i].downRate * work)
            // Ordinary traffic is a function of time; burst bytes come on top of it.
            let ordinaryUp = session.upBytes - session.burstUpBytes
            let ordinaryDown = session.downBytes - session.burstDownBytes
            var moreUp = up > ordinaryUp ? up - ordinaryUp : 0
            var moreDown = down > ordinaryDown ? down - ordinaryDown : 0
            if var burst = session.burst {
                let burstUp = burst.due(burst.up, at: t) - burst.upMoved
                let burstDown = burst.due(burst.down, at: t) - burst.downMoved
                burst.upMoved += burstUp
                burst.downMoved += burstDown
                session.burstUpBytes += burstUp
                session.burstDownBytes += burstDown
                moreUp += burstUp
                moreDown += burstDown
                session.burst = burst.isFinished ? nil : burst
            }
            session.upBytes += moreUp
            session.downBytes += moreDown
            subscribers[i].truthUp += moreUp
            subscribers[i].truthDown += moreDown
            subscribers[i].session = session
            movedBytes &+= moreUp &+ moreDown
            if session.link != nil { movedLTEBytes &+= moreUp &+ moreDown }
        }
        simTime = t
    }

    // MARK: - Association

    mutating func associate(_ i: Int, key: String?, keyID: String?) {
        guard let mac = subscribers[i].mac else { return }
        let aid = lingering.removeValue(forKey: mac)?.aid ?? lowestFreeAID()
        if !stationOrder.contains(mac) { stationOrder.insert(mac, at: 0) }
        let multiplier = subscribers[i].random.uniform(0.4, 1.6)
        var session = Session(startSim: simTime, startReal: realTime, startCumulative: tide.cumulative(absolute(simTime)),
                              multiplier: multiplier, aid: aid, key: key, keyID: keyID)
        session.accountingID = accountingRandom.next()
        subscribers[i].session = session
        subscribers[i].everConnected = true
        emit(3, "AP-STA-CONNECTED \(mac)" + (keyID.map { " keyid=\($0)" } ?? ""))
        accountingStart(i)
    }

    /// Ends station `i`'s session. `linger` keeps its entry for a while, as hostapd does for a
    /// station it deauthenticated itself. The Accounting-Stop (with `cause`, when hostapd sets
    /// one) goes out with the disconnect event, carrying the counters of this very instant.
    mutating func endSession(_ i: Int, linger: Bool, cause: AccountingEvent.TerminateCause? = nil, why: SessionEnd = .kicked) {
        guard let session = subscribers[i].session, let mac = subscribers[i].mac else { return }
        remember(i, session, why)
        emit(3, "AP-STA-DISCONNECTED \(mac)")
        accountingStop(i, cause: cause)
        subscribers[i].session = nil
        if linger {
            lingering[mac] = Lingering(aid: session.aid, until: realTime + Self.lingerSeconds)
        } else {
            stationOrder.removeAll { $0 == mac }
        }
    }

    /// Keeps the record of subscriber `i`'s session, which ends now.
    mutating func remember(_ i: Int, _ session: Session, _ why: SessionEnd) {
        history.append(SessionRecord(id: subscribers[i].id, upBytes: session.upBytes, downBytes: session.downBytes,
                                     started: session.startSim, ended: simTime, cause: why))
        if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }
    }

    /// The AP throws station `i` off; it tries again after the scenario's reconnect delay.
    mutating func kick(_ i: Int) {
        endSession(i, linger: true)
        subscribers[i].notBefore = simTime + configuration.scenario.reconnectDelay * subscribers[i].random.uniform(0.75, 1.25)
    }

    func lowestFreeAID() -> Int {
        var used = Set(lingering.values.map(\.aid))
        for s in subscribers where !s.isLTE { if let aid = s.session?.aid { used.insert(aid) } }
        var aid = 1
        while used.contains(aid) { aid += 1 }
        return aid
    }

    mutating func emit(_ level: Int, _ text: String) {
        events.append(.message(level: level, text: text))
    }
}
