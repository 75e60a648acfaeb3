/// Something a device reported, or a change in a backend's health.
public enum HALEvent: Hashable, Sendable {
    case stationConnected(SubscriberID)
    /// `finalCounters` when the source reports them with the disconnect.
    case stationDisconnected(SubscriberID, finalCounters: TrafficCounters?)
    case accessPointEnabled
    case accessPointDisabled
    /// The backend lost its device; what it held is kept.
    case degraded(device: String, reason: String)
    case restored(device: String)
    /// The source restarted: every counter it reports starts again from zero.
    case countersReset(device: String)

    /// A stable word for the event, used in logs and on the control socket.
    public var name: String {
        switch self {
        case .stationConnected: "station-connected"
        case .stationDisconnected: "station-disconnected"
        case .accessPointEnabled: "ap-enabled"
        case .accessPointDisabled: "ap-disabled"
        case .degraded: "degraded"
        case .restored: "restored"
        case .countersReset: "counters-reset"
        }
    }

    /// The subscriber the event is about, if any.
    public var subscriber: SubscriberID? {
        switch self {
        case .stationConnected(let id), .stationDisconnected(let id, _): id
        default: nil
        }
    }

    /// The device or reason, for events about a backend.
    public var detail: String? {
        switch self {
        case .degraded(let device, let reason): "\(device): \(reason)"
        case .restored(let device), .countersReset(let device): device
        default: nil
        }
    }
}
