/// The board around the radios: hardware watchdog, thermal zones, GPS, CPU load, and the
/// radio front end's presence. Value types and protocols only; backends live elsewhere.

// MARK: - Thermal

/// One trip point of a thermal zone, as the kernel lists it.
public struct ThermalTripPoint: Hashable, Sendable, Codable {
    public var index: Int
    public var celsius: Double
    /// `passive`, `active`, `hot` or `critical` (whatever the kernel said; nil if unreadable).
    public var type: String?
    /// How far below `celsius` the zone must cool before the trip counts as cleared.
    public var hysteresisCelsius: Double?

    public init(index: Int, celsius: Double, type: String? = nil, hysteresisCelsius: Double? = nil) {
        self.index = index
        self.celsius = celsius
        self.type = type
        self.hysteresisCelsius = hysteresisCelsius
    }
}

/// One thermal zone. A zone whose temperature cannot be read is still reported, with `problem`.
public struct ThermalReading: Hashable, Sendable, Codable {
    /// The zone's name, e.g. `thermal_zone0`.
    public var zone: String
    /// What it measures, e.g. `cpu-thermal` (nil if its `type` file could not be read).
    public var type: String?
    /// Degrees Celsius; nil when it could not be read (see `problem`).
    public var celsius: Double?
    public var tripPoints: [ThermalTripPoint]
    /// Why `celsius` is missing, naming the file.
    public var problem: String?

    public init(zone: String, type: String? = nil, celsius: Double?, tripPoints: [ThermalTripPoint] = [], problem: String? = nil) {
        self.zone = zone
        self.type = type
        self.celsius = celsius
        self.tripPoints = tripPoints
        self.problem = problem
    }

    /// The trip point that raises an alarm: the lowest one that is not a fan step (`active`),
    /// else the lowest of all; nil if the zone lists none.
    public var alarmTrip: ThermalTripPoint? {
        let sorted = tripPoints.sorted { $0.celsius < $1.celsius }
        return sorted.first { $0.type != "active" } ?? sorted.first
    }
}

/// The thermal zones of the board.
public protocol ThermalSensors: Sendable {
    /// Every zone, sorted by name; a zone that cannot be read is there with its `problem`.
    /// Throws `HALError(.unavailable)` only when the zones cannot be listed at all.
    func readZones() throws -> [ThermalReading]
}

/// Turns successive readings into alarm, clear, unreadable and readable-again events, once each.
///
/// A zone alarms at or above its alarm temperature (`thresholdCelsius` if set, else its
/// `alarmTrip`) and clears below that minus the hysteresis (the trip's own, else
/// `defaultHysteresisCelsius`). A zone that cannot be read keeps its alarm state.
public struct ThermalAlarms: Sendable {
    public var thresholdCelsius: Double?
    public var defaultHysteresisCelsius: Double
    /// Zones now in alarm.
    public private(set) var alarmed: Set<String> = []
    /// Zones now unreadable, with the reason.
    public private(set) var unreadable: [String: String] = [:]

    public init(thresholdCelsius: Double? = nil, defaultHysteresisCelsius: Double = 2) {
        self.thresholdCelsius = thresholdCelsius
        self.defaultHysteresisCelsius = defaultHysteresisCelsius
    }

    /// True while any zone is in alarm or unreadable (the board is not known to be cool).
    public var isDegraded: Bool { !alarmed.isEmpty || !unreadable.isEmpty }

    /// Takes the latest readings and returns what changed.
    public mutating func update(_ readings: [ThermalReading]) -> [BoardEvent] {
        var events: [BoardEvent] = []
        for reading in readings {
            guard let celsius = reading.celsius else {
                let reason = reading.problem ?? "no temperature"
                if unreadable[reading.zone] != reason { events.append(.thermalUnreadable(zone: reading.zone, reason: reason)) }
                unreadable[reading.zone] = reason
                continue
            }
            if unreadable.removeValue(forKey: reading.zone) != nil { events.append(.thermalReadable(zone: reading.zone)) }
            let trip = reading.alarmTrip
            guard let limit = thresholdCelsius ?? trip?.celsius else { continue }
            let hysteresis = thresholdCelsius == nil ? (trip?.hysteresisCelsius ?? defaultHysteresisCelsius) : defaultHysteresisCelsius
            if !alarmed.contains(reading.zone), celsius >= limit {
                alarmed.insert(reading.zone)
                events.append(.thermalAlarm(zone: reading.zone, celsius: celsius, limit: limit))
            } else if alarmed.contains(reading.zone), celsius < limit - hysteresis {
                alarmed.remove(reading.zone)
                events.append(.thermalCleared(zone: reading.zone, celsius: celsius))
            }
        }
        return events
    }
}

// MARK: - CPU

/// CPU pressure stall information (`/proc/pressure/cpu`): percent of time tasks waited for a CPU.
public struct CPUPressure: Hashable, Sendable, Codable {
    public var someAvg10: Double
    public var someAvg60: Double
    public var someAvg300: Double
    /// The `full` line (kernel 5.13 and later; always zero for the CPU at the system level).
    public var fullAvg10: Double?

    public init(someAvg10: Double, someAvg60: Double, someAvg300: Double, fullAvg10: Double? = nil) {
        self.someAvg10 = someAvg10
        self.someAvg60 = someAvg60
        self.someAvg300 = someAvg300
        self.fullAvg10 = fullAvg10
    }
}

/// How busy the CPUs were.
public struct CPULoad: Hashable, Sendable, Codable {
    /// Share of CPU time (0...1, all cores) spent not idle since the previous sample; nil on the first.
    public var busyFraction: Double?
    public var pressure: CPUPressure?
    /// Why `pressure` is missing (e.g. a kernel without PSI).
    public var pressureProblem: String?

    public init(busyFraction: Double?, pressure: CPUPressure?, pressureProblem: String? = nil) {
        self.busyFraction = busyFraction
        self.pressure = pressure
        self.pressureProblem = pressureProblem
    }
}

/// Samples CPU load; each sample compares with the one before.
public protocol CPUMonitor: Sendable {
    /// Throws `HALError(.unavailable)` when the load cannot be read at all.
    func sample() throws -> CPULoad
}

// MARK: - Watchdog

/// Where a hardware watchdog stands.
public struct WatchdogStatus: Hashable, Sendable, Codable {
    public enum State: String, Sendable, Codable {
        /// Not opened (or closed after a stop).
        case stopped
        /// Open: the timer runs and wants keepalives.
        case armed
        /// Opening or a keepalive failed; see `problem`.
        case failed
    }

    public var state: State
    public var device: String
    /// The reset timeout the device reports, in seconds, if it does.
    public var timeoutSeconds: Int?
    public var keepalives: UInt64
    /// Monotonic nanoseconds of the last keepalive.
    public var lastKeepaliveNanoseconds: UInt64?
    /// Whether the last stop disarmed the timer (magic close); nil before any stop.
    public var disarmedOnStop: Bool?
    public var problem: String?

    public init(state: State, device: String, timeoutSeconds: Int? = nil, keepalives: UInt64 = 0,
                lastKeepaliveNanoseconds: UInt64? = nil, disarmedOnStop: Bool? = nil, problem: String? = nil) {
        self.state = state
        self.device = device
        self.timeoutSeconds = timeoutSeconds
        self.keepalives = keepalives
        self.lastKeepaliveNanoseconds = lastKeepaliveNanoseconds
        self.disarmedOnStop = disarmedOnStop
        self.problem = problem
    }
}

/// The board's hardware watchdog: once started it resets the board unless kept alive.
public protocol HardwareWatchdog: AnyObject, Sendable {
    var status: WatchdogStatus { get }
    /// Opens the device, which arms it.
    func start() throws
    func keepalive() throws
    /// Closes the device. Only a clean stop (`clean == true`) disarms it (the magic close);
    /// otherwise the timer keeps running and resets the board unless someone else keeps it alive.
    func stop(clean: Bool)
}

// MARK: - GPS

/// How good a position is.
public enum GPSFixMode: Int, Sendable, Codable, Comparable {
    case none = 1, twoD = 2, threeD = 3

    public static func < (a: GPSFixMode, b: GPSFixMode) -> Bool { a.rawValue < b.rawValue }
}

/// One position report.
public struct GPSFix: Hashable, Sendable, Codable {
    public var mode: GPSFixMode
    /// Degrees, WGS84; nil without a fix.
    public var latitude: Double?
    public var longitude: Double?
    /// Metres above mean sea level (3D fixes).
    public var altitude: Double?
    /// UTC time of the fix, ISO 8601 as the receiver gave it.
    public var time: String?
    /// Where it came from, e.g. `gpsd 127.0.0.1:2947 /dev/ttyUSB0`.
    public var source: String

    public init(mode: GPSFixMode, latitude: Double? = nil, longitude: Double? = nil, altitude: Double? = nil, time: String? = nil, source: String) {
        self.mode = mode
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.time = time
        self.source = source
    }

    /// A 2D or 3D fix with a position.
    public var hasPosition: Bool { mode >= .twoD && latitude != nil && longitude != nil }
}

/// What a GPS receiver knows now.
public struct GPSStatus: Hashable, Sendable, Codable {
    /// Whether the receiver's source (e.g. gpsd) is reachable.
    public var link: LinkState
    /// The current fix; nil or mode `.none` when there is none.
    public var fix: GPSFix?
    /// The last fix that had a position, kept after the fix is lost.
    public var lastPosition: GPSFix?
    /// Why there is no current fix, in words (no gpsd, no device, no satellites...).
    public var problem: String?

    public init(link: LinkState, fix: GPSFix? = nil, lastPosition: GPSFix? = nil, problem: String? = nil) {
        self.link = link
        self.fix = fix
        self.lastPosition = lastPosition
        self.problem = problem
    }

    public var hasFix: Bool { fix?.hasPosition ?? false }
}

/// A source of position fixes.
///
/// `run` owns the connection: it returns only when cancelled, reconnects with back-off,
/// and reports changes through `events` (`.degraded`/`.restored` for the link, `.gpsFix` when
/// a fix is gained or its mode changes, `.gpsNoFix` when it is lost). `status` may be read at any time.
public protocol GPSReceiver: AnyObject, Sendable {
    var name: String { get }
    var status: GPSStatus { get }
    func run(events: @escaping BoardEventSink) async throws
}

// MARK: - Radio front end

/// Who the radio front end is.
public struct FrontEndIdentity: Hashable, Sendable, Codable {
    public var vendorID: UInt16
    public var productID: UInt16
    public var manufacturer: String?
    public var product: String?
    public var serial: String?
    /// Where it sits, e.g. `usb 1-2` (bus and port path).
    public var location: String?

    public init(vendorID: UInt16, productID: UInt16, manufacturer: String? = nil, product: String? = nil, serial: String? = nil, location: String? = nil) {
        self.vendorID = vendorID
        self.productID = productID
        self.manufacturer = manufacturer
        self.product = product
        self.serial = serial
        self.location = location
    }

    /// `vvvv:pppp` in lower-case hex, as lsusb prints it.
    public var usbID: String { Self.usbID(vendorID, productID) }

    public static func usbID(_ vendor: UInt16, _ product: UInt16) -> String {
        func hex(_ v: UInt16) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 4 - s.count) + s }
        return "\(hex(vendor)):\(hex(product))"
    }
}

/// Whether the front end is there.
public struct FrontEndStatus: Hashable, Sendable, Codable {
    public var present: Bool
    public var identity: FrontEndIdentity?
    /// Why it is not present (or what could not be read), in words.
    public var reason: String?

    public init(present: Bool, identity: FrontEndIdentity? = nil, reason: String? = nil) {
        self.present = present
        self.identity = identity
        self.reason = reason
    }
}

/// What a front-end backend can do beyond probing.
public struct RadioFrontEndCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Arrivals and departures are reported as they happen (otherwise by polling).
    public static let hotPlug = RadioFrontEndCapabilities(rawValue: 1 << 0)
    /// `reset()` works.
    public static let reset = RadioFrontEndCapabilities(rawValue: 1 << 1)
    /// Manufacturer, product and serial strings are readable.
    public static let descriptorStrings = RadioFrontEndCapabilities(rawValue: 1 << 2)
}

/// The radio front end (on the FSM9016 board, a USB device named by the board profile).
///
/// No device is a state, not an error: `probe` says why it is absent, and the daemon keeps running.
public protocol RadioFrontEnd: AnyObject, Sendable {
    var name: String { get }
    var capabilities: RadioFrontEndCapabilities { get }
    /// Looks for the device now.
    func probe() -> FrontEndStatus
    /// Resets the device (it re-enumerates); throws `HALError(.unavailable)` when it is absent.
    func reset() throws
    /// Watches for arrival and departure (`.frontEndArrived`, `.frontEndGone`) until cancelled.
    func run(events: @escaping BoardEventSink) async throws
}

// MARK: - Events

/// Something the board reported, or a change in a board backend's health.
public enum BoardEvent: Hashable, Sendable {
    case thermalAlarm(zone: String, celsius: Double, limit: Double)
    case thermalCleared(zone: String, celsius: Double)
    case thermalUnreadable(zone: String, reason: String)
    case thermalReadable(zone: String)
    case gpsFix(GPSFix)
    case gpsNoFix(reason: String)
    case frontEndArrived(FrontEndIdentity)
    /// The front end is absent (at start) or went away.
    case frontEndGone(reason: String)
    /// A backend lost its device or peer (e.g. gpsd); it keeps trying.
    case degraded(device: String, reason: String)
    case restored(device: String)

    /// A stable word for the event, used in logs and on the control socket.
    public var name: String {
        switch self {
        case .thermalAlarm: "thermal-alarm"
        case .thermalCleared: "thermal-cleared"
        case .thermalUnreadable: "thermal-unreadable"
        case .thermalReadable: "thermal-readable"
        case .gpsFix: "gps-fix"
        case .gpsNoFix: "gps-no-fix"
        case .frontEndArrived: "front-end-arrived"
        case .frontEndGone: "front-end-gone"
        case .degraded: "degraded"
        case .restored: "restored"
        }
    }

    /// The same event as a `HALEvent`, for the link-health events both share.
    /// The event's facts in a few words, for logs and `qlinkctl events`.
    public var detail: String {
        switch self {
        case .thermalAlarm(let zone, let celsius, let limit): "\(zone) at \(celsius) °C, at or above \(limit) °C"
        case .thermalCleared(let zone, let celsius): "\(zone) back to \(celsius) °C"
        case .thermalUnreadable(let zone, let reason): "\(zone): \(reason)"
        case .thermalReadable(let zone): zone
        case .gpsFix(let fix): "\(fix.mode) \(fix.latitude ?? 0), \(fix.longitude ?? 0)"
        case .gpsNoFix(let reason): reason
        case .frontEndArrived(let identity): identity.usbID
        case .frontEndGone(let reason): reason
        case .degraded(let device, let reason): "\(device): \(reason)"
        case .restored(let device): device
        }
    }

    public var halEvent: HALEvent? {
        switch self {
        case .degraded(let device, let reason): .degraded(device: device, reason: reason)
        case .restored(let device): .restored(device: device)
        default: nil
        }
    }
}

/// Receives a board backend's events, in order; must not block.
public typealias BoardEventSink = @Sendable (BoardEvent) -> Void
