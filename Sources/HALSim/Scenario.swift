import HAL

/// What a simulated day looks like: who is around, how long they stay, how much they move,
/// and which faults strike when. Parsed from the small INI-like files in `hal-sim/scenarios`.
///
/// All times are on the simulated clock (seconds), which `--speed` compresses.
public struct Scenario: Sendable, Equatable {
    /// The file's name without `.conf`, or the path it came from.
    public var name: String
    /// How many distinct subscribers (Wi-Fi stations) exist.
    public var subscribers: Int
    /// How many cellular subscribers (UEs) exist; nil: a third of the Wi-Fi population.
    public var ues: Int?
    /// Where the GPS receiver is.
    public var position: GPSPosition
    /// Seconds after midnight at which the simulated clock starts.
    public var startOfDay: Double
    /// Mean length of one association, in seconds.
    public var meanSession: Double
    /// New sessions per hour across the scenario's population at tide level 1 (each
    /// subscriber keeps its share when `--subscribers` changes the population).
    public var arrivalsPerHour: Double
    /// Multiplies every subscriber's traffic rate.
    public var trafficScale: Double
    /// How long a station kicked off by the AP waits before it tries to associate again.
    public var reconnectDelay: Double
    public var tide: Tide
    public var faults: [ScheduledFault]

    public init(name: String, subscribers: Int = 24, ues: Int? = nil, startOfDay: Double = 17 * 3600, meanSession: Double = 45 * 60,
                arrivalsPerHour: Double = 30, trafficScale: Double = 1, reconnectDelay: Double = 30,
                tide: Tide = .standard, faults: [ScheduledFault] = [], position: GPSPosition = .standard) {
        self.name = name
        self.subscribers = subscribers
        self.ues = ues
        self.position = position
        self.startOfDay = startOfDay
        self.meanSession = meanSession
        self.arrivalsPerHour = arrivalsPerHour
        self.trafficScale = trafficScale
        self.reconnectDelay = reconnectDelay
        self.tide = tide
        self.faults = faults
    }
}

/// A fault that strikes at a simulated time, and optionally again every `every` seconds after.
public struct ScheduledFault: Sendable, Equatable {
    /// Seconds of simulated time after the start.
    public var at: Double
    public var every: Double?
    public var action: FaultAction

    public init(at: Double, every: Double? = nil, action: FaultAction) {
        self.at = at
        self.every = every
        self.action = action
    }
}

/// Something that goes wrong on the simulated board (the same set `hal-sim ctl inject` offers).
public enum FaultAction: Sendable, Equatable, CustomStringConvertible {
    /// hostapd terminates and comes back after `downSeconds` of real time.
    case hostapdRestart(downSeconds: Double)
    /// The driver's counters restart at zero, without any event.
    case counterReset(FaultTarget)
    /// A burst of real extra traffic carries the 32-bit byte counters just past 2^32 over
    /// `seconds` of real time (skipped with 64-bit counters).
    case wrap32(FaultTarget, seconds: Double)
    /// OpenBTS terminates (every UE drops, its CLI closes) and comes back on the same port
    /// after `downSeconds` of real time.
    case radioRestart(downSeconds: Double)
    /// Both thermal zones run 30 °C hotter (at least 90 °C, past the 85 °C trip point) for
    /// `seconds` of real time.
    case thermalSpike(seconds: Double)
    /// The radio front end is unplugged (the radio goes down) or plugged in again.
    case frontend(present: Bool)
    /// The GPS receiver loses or regains its fix.
    case gps(fix: Bool)

    /// How long a wrap32 burst lasts when no seconds are given (real seconds).
    public static let defaultWrapSeconds = 12.0
    /// How long a thermal spike lasts when no seconds are given (real seconds).
    public static let defaultSpikeSeconds = 30.0

    public var description: String {
        switch self {
        case .hostapdRestart(let seconds): "hostapd-restart \(formatNumber(seconds))"
        case .counterReset(let target): "counter-reset \(target)"
        case .wrap32(let target, let seconds): "wrap32 \(target) \(formatNumber(seconds))"
        case .radioRestart(let seconds): "radio-restart \(formatNumber(seconds))"
        case .thermalSpike(let seconds): "thermal-spike \(formatNumber(seconds))"
        case .frontend(let present): present ? "frontend-plug" : "frontend-unplug"
        case .gps(let fix): fix ? "gps-fix" : "gps-lost"
        }
    }

    /// Parses `hostapd-restart [SECONDS]`, `counter-reset [all|random|ID]`,
    /// `wrap32 [all|random|ID] [SECONDS]` (a lone number after wrap32 is the seconds),
    /// `radio-restart [SECONDS]`, `thermal-spike [SECONDS]`, `frontend-unplug`,
    /// `frontend-plug`, `gps-lost`, `gps-fix`.
    public init?(words: [Substring]) {
        guard let verb = words.first else { return nil }
        let arguments = Array(words.dropFirst())
        let argument = arguments.first
        func seconds(default value: Double, minimum: Double = 0) -> Double? {
            guard arguments.count <= 1, let seconds = argument.map({ Double($0) }) ?? value,
                  seconds >= minimum, seconds <= 3600 else { return nil }
            return seconds
        }
        switch verb {
        case "hostapd-restart":
            guard let seconds = seconds(default: 3) else { return nil }
            self = .hostapdRestart(downSeconds: seconds)
        case "radio-restart":
            guard let seconds = seconds(default: 3) else { return nil }
            self = .radioRestart(downSeconds: seconds)
        case "thermal-spike":
            guard let seconds = seconds(default: Self.defaultSpikeSeconds), seconds > 0 else { return nil }
            self = .thermalSpike(seconds: seconds)
        case "frontend-unplug", "frontend-plug":
            guard arguments.isEmpty else { return nil }
            self = .frontend(present: verb == "frontend-plug")
        case "gps-lost", "gps-fix":
            guard arguments.isEmpty else { return nil }
            self = .gps(fix: verb == "gps-fix")
        case "counter-reset":
            guard arguments.count <= 1, let target = FaultTarget(argument) else { return nil }
            self = .counterReset(target)
        case "wrap32":
            guard arguments.count <= 2 else { return nil }
            var seconds = Self.defaultWrapSeconds
            var targetWords = arguments[...]
            if let last = arguments.last, let number = Double(last) {
                guard number > 0, number <= 3600 else { return nil }
                seconds = number
                targetWords = targetWords.dropLast()
            }
            guard targetWords.count <= 1, let target = FaultTarget(targetWords.first) else { return nil }
            self = .wrap32(target, seconds: seconds)
        default:
            return nil
        }
    }
}

/// Whom a counter fault hits.
public enum FaultTarget: Sendable, Equatable, CustomStringConvertible {
    /// Every connected station.
    case all
    /// One connected station, chosen by the seeded schedule.
    case random
    case subscriber(SubscriberID)

    /// Parses nothing/`all`, `random`, `mac:aa:bb:..` or a bare MAC address.
    public init?(_ word: Substring?) {
        guard let word, word != "all" else { self = .all; return }
        if word == "random" { self = .random; return }
        if let id = SubscriberID(word), id.scheme == .mac { self = .subscriber(id); return }
        if let mac = MACAddress(word) { self = .subscriber(.mac(mac)); return }
        return nil
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .random: "random"
        case .subscriber(let id): id.description
        }
    }
}

/// A number without a needless `.0`.
func formatNumber(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}

/// The scenarios that ship with hal-sim, embedded so that the executable needs no files.
///
/// The same text is in `hal-sim/scenarios/NAME.conf`; a test keeps the two identical.
public enum BuiltinScenarios {
    /// The scenario used when `--scenario` is not given.
    public static let defaultName = "busy-day"

    /// Scenario text by name.
    public static let texts: [String: String] = [
        "quiet-night": """
        # quiet-night: a handful of subscribers in the small hours, little traffic.
        [world]
        subscribers = 6
        start = 01:30
        ues = 2
        session = 40m
        arrivals = 20/h
        traffic = 0.3
        reconnect = 30s
        """,
        "busy-day": """
        # busy-day (the default): a populated cell from late afternoon into the evening peak.
        [world]
        subscribers = 24
        ues = 8
        start = 17:00
        session = 45m
        arrivals = 30/h
        traffic = 1.0
        reconnect = 30s
        tide = 00:00 0.25, 03:00 0.05, 06:00 0.08, 09:00 0.40, 13:00 0.55, 17:00 0.65, 20:00 1.0, 22:00 0.85
        """,
        "churn": """
        # churn: many short sessions; stations come and go every few minutes.
        [world]
        subscribers = 48
        ues = 16
        start = 19:00
        session = 3m
        arrivals = 600/h
        traffic = 0.5
        reconnect = 10s
        """,
        "faults": """
        # faults: a busy evening with things going wrong on a schedule (simulated time).
        [world]
        subscribers = 16
        ues = 6
        start = 18:00
        session = 30m
        arrivals = 30/h
        traffic = 1.0
        reconnect = 20s
        gps = 52.520008, 13.404954, 34

        [faults]
        at = 2m hostapd-restart 3
        every = 5m counter-reset random
        every = 7m wrap32 random 12
        at = 20m hostapd-restart 10
        every = 1h counter-reset all
        at = 5m radio-restart 3
        at = 12m thermal-spike 20
        at = 15m gps-lost
        at = 16m gps-fix
        at = 25m frontend-unplug
        at = 26m frontend-plug
        """,
    ]

    /// The names, in a stable order.
    public static var names: [String] { ["quiet-night", "busy-day", "churn", "faults"] }

    /// The parsed built-in scenario `name`, or nil if there is none by that name.
    public static func scenario(named name: String) throws(ScenarioError) -> Scenario? {
        guard let text = texts[name] else { return nil }
        return try Scenario.parse(text, file: "hal-sim/scenarios/\(name).conf", name: name)
    }
}
