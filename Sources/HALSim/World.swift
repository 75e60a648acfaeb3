import HAL
import Synchronization

/// How a world is set up: the scenario and the command line's overrides.
public struct WorldConfiguration: Sendable {
    public var scenario: Scenario
    /// Makes the schedule (arrivals, departures, rates, MACs) repeatable.
    public var seed: UInt64
    /// Simulated seconds per real second.
    public var speed: Double
    /// The Wi-Fi population (the scenario's unless overridden).
    public var subscribers: Int
    /// The cellular population: UEs with IMSIs (the scenario's `ues`, else a third of the
    /// Wi-Fi population, unless overridden).
    public var ues: Int
    /// Where the emulated GPS receiver is (the scenario's `gps`).
    public var position: GPSPosition
    /// The width of the byte counters the emulated driver reports.
    public var counterWidth: CounterWidth
    public var ssid = "Qlink-sim"
    public var bssid = MACAddress(bytes: [0x02, 0x51, 0x00, 0x00, 0x00, 0x01])!
    public var interface = "wlan0"

    public init(scenario: Scenario, seed: UInt64 = 1, speed: Double = 1, subscribers: Int? = nil, ues: Int? = nil,
                counterWidth: CounterWidth = .bits32) {
        self.scenario = scenario
        self.seed = seed
        self.speed = speed
        let population = subscribers ?? scenario.subscribers
        self.subscribers = population
        self.ues = ues ?? scenario.ues ?? population / 3
        self.position = scenario.position
        self.counterWidth = counterWidth
    }
}

/// Something the emulated hostapd must tell the outside: a control-interface event for
/// attached monitors (`<level>text`), or that its process stopped or started.
public enum APEvent: Sendable, Equatable {
    case message(level: Int, text: String)
    /// hostapd terminated: its control socket must vanish.
    case stopped
    /// hostapd is back: a fresh control socket must appear.
    case started
}

/// One station entry as hostapd would report it.
public struct StationSnapshot: Sendable, Equatable {
    public var mac: MACAddress
    public var aid: Int
    /// False for an entry hostapd keeps for a few seconds after it deauthenticated the station.
    public var associated: Bool
    /// Driver counters as reported: rx = from the station (upload), modulo the counter width.
    public var rxBytes: UInt64 = 0
    public var txBytes: UInt64 = 0
    public var rxPackets: UInt64 = 0
    public var txPackets: UInt64 = 0
    public var inactiveMilliseconds = 0
    public var signalDBm = 0
    public var connectedSeconds: UInt64 = 0
    public var keyID: String?
    /// The session's exact byte counts (never wrapped or reset), for tests.
    public var exactUpBytes: UInt64 = 0
    public var exactDownBytes: UInt64 = 0

    public init(mac: MACAddress, aid: Int, associated: Bool) {
        self.mac = mac
        self.aid = aid
        self.associated = associated
    }
}

/// The world at a glance (`hal-sim ctl status`).
public struct WorldStatus: Sendable, Equatable {
    public var simSeconds: Double
    /// Seconds after midnight of the current simulated day, and which day.
    public var timeOfDay: Double
    public var day: Int
    public var tideLevel: Double
    public var paused: Bool
    /// Wi-Fi stations associated now.
    public var connected: Int
    public var hostapdUp: Bool
    public var apEnabled: Bool
    /// The Wi-Fi population.
    public var subscribers: Int
    /// The cellular population, and how many UEs are attached now.
    public var ues: Int
    public var uesAttached: Int
    public var radioUp: Bool
    /// Location updates rejected so far (blocked IMSIs).
    public var ueRejections: Int
}

/// The simulated world: subscribers, their sessions, the access point and the radio they use,
/// and the board around them, advanced by explicit calls (`advance(by:)`) so that tests drive
/// it without real time.
///
/// One lock guards all of it: a byte added to a station's or a UE's counters is added to its
/// truth in the same critical section. Events an operation causes go to the sinks after that
/// section, in order, under a second lock that keeps batches from different threads from
/// interleaving.
public final class World: Sendable {
    public typealias EventSink = @Sendable ([APEvent]) -> Void
    public typealias RadioSink = @Sendable ([RadioEvent]) -> Void
    public typealias NoticeSink = @Sendable ([WorldNotice]) -> Void
    public typealias AccountingSink = @Sendable ([AccountingEvent]) -> Void

    struct Sinks {
        var ap: EventSink?
        var radio: RadioSink?
        var notices: NoticeSink?
        var accounting: AccountingSink?
    }

    private let state: Mutex<WorldState>
    private let delivery = Mutex(Sinks())
    public let configuration: WorldConfiguration

    /// `pskLoader` reads the PSK file when hostapd (re)starts; nil when unreadable or invalid.
    public init(configuration: WorldConfiguration, pskLoader: (@Sendable () -> [PSKEntry]?)? = nil) {
        self.configuration = configuration
        state = Mutex(WorldState(configuration: configuration, pskLoader: pskLoader))
    }

    /// Where events go from now on (the hostapd endpoint server).
    public func setEventSink(_ sink: @escaping EventSink) {
        delivery.withLock { $0.ap = sink }
    }

    /// Where the radio's events go from now on (the OpenBTS endpoint server).
    public func setRadioSink(_ sink: @escaping RadioSink) {
        delivery.withLock { $0.radio = sink }
    }

    /// Where notices go from now on (hal-sim's log).
    public func setNoticeSink(_ sink: @escaping NoticeSink) {
        delivery.withLock { $0.notices = sink }
    }

    /// Where hostapd's RADIUS accounting goes from now on (the accounting client).
    public func setAccountingSink(_ sink: @escaping AccountingSink) {
        delivery.withLock { $0.accounting = sink }
    }

    /// hostapd sends RADIUS accounting from now on: Accounting-On at once (unless hostapd is
    /// down or the AP disabled), a Start for every station already associated, then a Start
    /// and a Stop for every session. Until this is called nothing is recorded.
    public func enableAccounting() { perform { $0.enableAccounting() } }

    func perform<R: Sendable>(_ body: (inout WorldState) -> R) -> R {
        delivery.withLock { sinks in
            let (result, events, radioEvents, notices, accounting) = state.withLock {
                s -> (R, [APEvent], [RadioEvent], [WorldNotice], [AccountingEvent]) in
                let result = body(&s)
                defer {
                    s.events.removeAll()
                    s.radioEvents.removeAll()
                    s.notices.removeAll()
                    s.accountingEvents.removeAll()
                }
                return (result, s.events, s.radioEvents, s.notices, s.accountingEvents)
            }
            // The control-interface events first: hostapd announces a deauthentication before
            // its Accounting-Stop goes out.
            if !events.isEmpty { sinks.ap?(events) }
            if !accounting.isEmpty { sinks.accounting?(accounting) }
            if !radioEvents.isEmpty { sinks.radio?(radioEvents) }
            if !notices.isEmpty { sinks.notices?(notices) }
            return result
        }
    }

    func attempt<R: Sendable>(_ body: (inout WorldState) throws(WorldError) -> R) throws(WorldError) -> R {
        try perform { s -> Result<R, WorldError> in
            do throws(WorldError) { return .success(try body(&s)) } catch { return .failure(error) }
        }.get()
    }

    /// Lets `real` time pass: simulated time moves `speed` times as far unless paused.
    public func advance(by real: Duration) {
        let (seconds, attoseconds) = real.components
        perform { $0.advance(realSeconds: Double(seconds) + Double(attoseconds) * 1e-18) }
    }

    /// Freezes the world: no bytes move, nobody arrives or leaves, simulated time stops.
    public func pause() { perform { $0.paused = true } }
    public func resume() { perform { $0.paused = false } }

    /// Every subscriber that ever associated, with the bytes it really moved, sorted by id.
    public func truth() -> [TruthEntry] {
        perform { s in
            s.subscribers.filter(\.everConnected)
                .map { TruthEntry(id: $0.id, upBytes: $0.truthUp, downBytes: $0.truthDown) }
                .sorted { $0.id < $1.id }
        }
    }

    public func status() -> WorldStatus {
        perform { s in
            let absolute = s.absolute(s.simTime)
            let day = Int((absolute / Tide.day).rounded(.down))
            return WorldStatus(simSeconds: s.simTime, timeOfDay: absolute - Double(day) * Tide.day, day: day,
                               tideLevel: s.tide.level(at: absolute), paused: s.paused,
                               connected: s.subscribers.filter { $0.session != nil && !$0.isLTE }.count,
                               hostapdUp: s.hostapd == .running, apEnabled: s.apEnabled,
                               subscribers: s.configuration.subscribers, ues: s.configuration.ues,
                               uesAttached: s.subscribers.filter { $0.session != nil && $0.isLTE }.count,
                               radioUp: s.radioAvailable, ueRejections: s.radio.rejections)
        }
    }

    /// hostapd's station list, newest first.
    public func stations() -> [StationSnapshot] { perform { $0.stationSnapshots() } }

    // MARK: hostapd commands

    /// `DEAUTHENTICATE <argument>`; false means FAIL.
    public func deauthenticate(_ argument: String) -> Bool { perform { $0.deauthenticate(argument) } }
    /// Applies a freshly read PSK file (`RELOAD_WPA_PSK`).
    public func reloadPSK(_ entries: [PSKEntry]) { perform { $0.reloadPSK(entries) } }
    /// `ENABLE`; false means FAIL (already enabled).
    public func enableAP() -> Bool { perform { $0.enableAP() } }
    /// `DISABLE`; false means FAIL (already disabled).
    public func disableAP() -> Bool { perform { $0.disableAP() } }

    // MARK: injected faults

    /// hostapd goes away now and comes back after `seconds` of real time.
    public func injectHostapdRestart(downFor seconds: Double) throws(WorldError) {
        try attempt { s throws(WorldError) in try s.restartHostapd(downFor: seconds) }
    }

    /// The driver's counters of one or all stations restart at zero. Returns how many stations.
    @discardableResult
    public func injectCounterReset(_ target: FaultTarget) throws(WorldError) -> Int {
        try attempt { s throws(WorldError) in try s.resetCounters(target) }
    }

    /// One or all stations start a wrap32 burst: real extra traffic that carries their 32-bit
    /// byte counters just past 2^32 over `seconds` of real time, counted in truth like any
    /// other byte. Refused with 64-bit counters. Returns how many bursts started.
    @discardableResult
    public func injectWrap32(_ target: FaultTarget, seconds: Double = FaultAction.defaultWrapSeconds) throws(WorldError) -> Int {
        try attempt { s throws(WorldError) in try s.startWrapBursts(target, realSeconds: seconds) }
    }

    // MARK: for tests

    /// Finished sessions (the most recent few thousand) with their exact byte counts.
    func sessionHistory() -> [SessionRecord] { perform { $0.history } }
}
