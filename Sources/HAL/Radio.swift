/// The cellular band a cell transmits in.
public enum RadioBand: String, Sendable, Codable, CaseIterable {
    case gsm850 = "850", gsm900 = "900", dcs1800 = "1800", pcs1900 = "1900"
    /// LTE-U in the 5 GHz unlicensed band (the FSM9016's own stack).
    case lteU = "lte-u"
}

/// A cell's static configuration.
public struct CellConfiguration: Hashable, Sendable, Codable {
    public var band: RadioBand
    /// ARFCN (GSM) or EARFCN (LTE).
    public var channel: Int
    public var mcc: String
    public var mnc: String
    public var lac: Int
    public var cellID: Int
    /// Transmit power in dBm; the BaseStation is rated for 20 dBm (100 mW).
    public var transmitPowerDBm: Double
    /// Most subscribers attached at once; more are refused by policy.
    public var capacity: Int

    public static let maximumTransmitPowerDBm = 20.0

    public init(band: RadioBand, channel: Int, mcc: String, mnc: String, lac: Int, cellID: Int, transmitPowerDBm: Double, capacity: Int = 10) {
        self.band = band
        self.channel = channel
        self.mcc = mcc
        self.mnc = mnc
        self.lac = lac
        self.cellID = cellID
        self.transmitPowerDBm = transmitPowerDBm
        self.capacity = capacity
    }

    /// Every reason this configuration may not be used, each naming its field; empty when valid.
    public func problems() -> [String] {
        var problems: [String] = []
        if transmitPowerDBm > Self.maximumTransmitPowerDBm {
            problems.append("transmit_power: \(transmitPowerDBm) dBm is above the BaseStation's rating of 20 dBm (100 mW)")
        }
        if !transmitPowerDBm.isFinite || transmitPowerDBm < -30 { problems.append("transmit_power: \(transmitPowerDBm) dBm is not a usable power") }
        if mcc.count != 3 || !mcc.allSatisfy(\.isNumber) { problems.append("mcc: '\(mcc)' is not 3 digits") }
        if !(2...3).contains(mnc.count) || !mnc.allSatisfy(\.isNumber) { problems.append("mnc: '\(mnc)' is not 2 or 3 digits") }
        if !(1...65533).contains(lac) { problems.append("lac: \(lac) is outside 1...65533") }
        if !(0...65535).contains(cellID) { problems.append("cell_id: \(cellID) is outside 0...65535") }
        if channel < 0 { problems.append("channel: \(channel) is negative") }
        if !(1...256).contains(capacity) { problems.append("capacity: \(capacity) is outside 1...256") }
        return problems
    }
}

/// One subscriber attached to the cell.
public struct AttachedSubscriber: Hashable, Sendable, Codable {
    /// An `imsi:` subscriber.
    public var id: SubscriberID
    /// The address the core gave it, if any (e.g. from `GGSN.MS.IP.Base`).
    public var ipAddress: String?
    /// Seconds since it attached, when the stack reports it.
    public var attachedSeconds: UInt64?
    /// Cumulative since it attached (summed over all its data contexts); nil if not reported.
    public var counters: TrafficCounters?

    public init(id: SubscriberID, ipAddress: String? = nil, attachedSeconds: UInt64? = nil, counters: TrafficCounters? = nil) {
        self.id = id
        self.ipAddress = ipAddress
        self.attachedSeconds = attachedSeconds
        self.counters = counters
    }
}

/// What a radio backend can do beyond the basics.
public struct RadioCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let byteCounters = RadioCapabilities(rawValue: 1 << 0)
    public static let detach = RadioCapabilities(rawValue: 1 << 1)
    public static let block = RadioCapabilities(rawValue: 1 << 2)
    /// Power changes apply at once (others need a restart of the stack).
    public static let livePowerControl = RadioCapabilities(rawValue: 1 << 3)
    /// Band/channel/identity changes apply without restarting the stack.
    public static let liveReconfiguration = RadioCapabilities(rawValue: 1 << 4)
}

/// What applying a cell configuration did.
public struct RadioApplyResult: Sendable, Equatable {
    /// Keys whose new value takes effect only after the stack restarts.
    public var needsRestart: [String]
    public init(needsRestart: [String] = []) { self.needsRestart = needsRestart }
}

/// The cellular radio (OpenBTS on the lab board; the FSM9016's LTE-U stack through a vendor backend).
///
/// As with `AccessPoint`, `run` owns the connection to the stack, reconnects with back-off,
/// and reports through `events` (`subscriberAttached`, `subscriberDetached`, `degraded`,
/// `restored`, `radioFault`); the other calls throw `HALError(.unavailable)` while it is away.
public protocol Radio: AnyObject, Sendable {
    var name: String { get }
    var capabilities: RadioCapabilities { get }
    var state: LinkState { get }

    func run(events: @escaping HALEventSink) async throws
    /// Applies a validated configuration; says which parts wait for a restart.
    func apply(_ configuration: CellConfiguration) async throws -> RadioApplyResult
    /// Every attached subscriber with its counters.
    func subscribers() async throws -> [AttachedSubscriber]
    /// Ends a subscriber's attachment (it may attach again).
    func detach(_ subscriber: SubscriberID) async throws
    /// Refuses a subscriber's future attaches (and detaches it), or lets it back.
    func setBlocked(_ subscriber: SubscriberID, _ blocked: Bool) async throws
}
