/// Whether a device backend can be used right now.
public enum LinkState: String, Sendable, Codable {
    /// Reachable and working.
    case up
    /// Deliberately off, or never reached.
    case down
    /// Was working, lost its peer (e.g. hostapd restarting); the backend is reconnecting.
    case degraded
}

/// What an access point backend can do beyond the basics.
public struct AccessPointCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Reports per-station byte and packet counters.
    public static let byteCounters = AccessPointCapabilities(rawValue: 1 << 0)
    /// Reports the final counters of a station when it disconnects.
    public static let finalCountersOnDisconnect = AccessPointCapabilities(rawValue: 1 << 1)
    /// Can kick a station off.
    public static let deauthenticate = AccessPointCapabilities(rawValue: 1 << 2)
    /// Can give each station its own passphrase and revoke it.
    public static let perStationPSK = AccessPointCapabilities(rawValue: 1 << 3)
    /// Reports each station's signal strength.
    public static let signalStrength = AccessPointCapabilities(rawValue: 1 << 4)
}

/// One associated Wi-Fi station as the access point reports it.
public struct StationInfo: Hashable, Sendable, Codable {
    public var mac: MACAddress
    /// Cumulative since the station associated; nil if the driver does not report them.
    public var counters: TrafficCounters?
    public var signalDBm: Int?
    public var connectedSeconds: UInt64?
    public var inactiveMilliseconds: UInt64?
    /// The `keyid` of the per-station PSK the station used, if any.
    public var keyID: String?
    public var authorized: Bool

    public init(mac: MACAddress, counters: TrafficCounters? = nil, signalDBm: Int? = nil, connectedSeconds: UInt64? = nil,
                inactiveMilliseconds: UInt64? = nil, keyID: String? = nil, authorized: Bool = true) {
        self.mac = mac
        self.counters = counters
        self.signalDBm = signalDBm
        self.connectedSeconds = connectedSeconds
        self.inactiveMilliseconds = inactiveMilliseconds
        self.keyID = keyID
        self.authorized = authorized
    }

    public var subscriber: SubscriberID { .mac(mac) }
}

/// Why a device call failed.
public struct HALError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The device or its peer process is not reachable now.
        case unavailable
        /// The backend cannot do this at all (see its capabilities).
        case unsupported
        /// The device answered and refused.
        case rejected
        /// The device answered something this backend does not understand.
        case protocolViolation
        /// The device did not answer in time.
        case timedOut
    }

    public let kind: Kind
    /// The device or peer, e.g. `hostapd /run/hostapd/wlan0`.
    public let device: String
    public let message: String

    public init(_ kind: Kind, device: String, _ message: String) {
        self.kind = kind
        self.device = device
        self.message = message
    }

    public var description: String { "\(device): \(message)" }
}

/// Receives a backend's events, in the order they happened.
public typealias HALEventSink = @Sendable (HALEvent) -> Void

/// The Wi-Fi access point (hostapd on the board).
///
/// `run` owns the connection to the device: it returns only when cancelled, reconnects
/// with back-off when the device goes away, and reports what happens through `events`.
/// The other calls may be made concurrently with `run`; they throw `HALError(.unavailable)`
/// while the device is away and never wait longer than their own timeout.
public protocol AccessPoint: AnyObject, Sendable {
    /// Names the device in messages and events.
    var name: String { get }
    var capabilities: AccessPointCapabilities { get }
    var state: LinkState { get }

    func run(events: @escaping HALEventSink) async throws
    /// Enables the radio interface (beaconing, accepting stations).
    func start() async throws
    /// Disables it; stations are dropped.
    func stop() async throws
    /// Every associated station with its counters.
    func stations() async throws -> [StationInfo]
    func deauthenticate(_ station: MACAddress) async throws
    /// Gives `station` its own passphrase, or revokes it (`passphrase == nil`, which also disconnects it).
    func setStationPSK(_ station: MACAddress, passphrase: String?, keyID: String?) async throws
}
