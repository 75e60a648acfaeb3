/// Something a device reported, or a change in a backend's health.
public enum HALEvent: Hashable, Sendable {
    case stationConnected(SubscriberID)
    /// `finalCounters` when the source reports them with the disconnect.
    case stationDisconnected(SubscriberID, finalCounters: TrafficCounters?)
    /// The source's final counters of a session that ended (hostapd's RADIUS
    /// Accounting-Stop, which may come just before or after the disconnect event; an MS
    /// record OpenBTS still lists after a detach no poll saw). `sessionSeconds` is how long
    /// ago that session began, when the source says (the Stop's session time, the GMM
    /// context's age): it tells a late or repeated report from one about the current session.
    case finalCounters(SubscriberID, TrafficCounters, sessionSeconds: UInt64?)
    /// Something the board reported (thermal, GPS, the front end).
    case board(BoardEvent)
    /// A cellular subscriber attached to the cell.
    case subscriberAttached(SubscriberID)
    /// A cellular subscriber detached (or was detached); `finalCounters` when the stack gives them.
    case subscriberDetached(SubscriberID, finalCounters: TrafficCounters?)
    /// An attach was refused by policy (the cell is full, the subscriber is blocked).
    case attachRefused(SubscriberID, reason: String)
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
        case .board(let event): event.name
        case .finalCounters: "final-counters"
        case .subscriberAttached: "subscriber-attached"
        case .subscriberDetached: "subscriber-detached"
        case .attachRefused: "attach-refused"
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
        case .stationConnected(let id), .stationDisconnected(let id, _), .finalCounters(let id, _, _),
             .subscriberAttached(let id), .subscriberDetached(let id, _), .attachRefused(let id, _): id
        default: nil
        }
    }

    /// The device or reason, for events about a backend.
    public var detail: String? {
        switch self {
        case .degraded(let device, let reason): "\(device): \(reason)"
        case .restored(let device), .countersReset(let device): device
        case .attachRefused(_, let reason): reason
        case .board(let event): event.detail
        default: nil
        }
    }
}
