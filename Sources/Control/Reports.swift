/// `status`: the daemon at a glance.
public struct StatusReport: Codable, Sendable, Equatable {
    public var version: String
    public var uptimeSeconds: UInt64
    public var board: String
    public var station: String
    /// `up`, `down` or `degraded`.
    public var wifi: String
    public var wifiDetail: String?
    /// Subscribers connected now.
    public var subscribers: Int
    public var pid: Int32
    /// The metering journal: `ok`, or `stopped: <why>` (e.g. the disk is full).
    public var metering: String?
    /// Bytes appended and fsyncs made by the journal since the daemon started.
    public var journalBytes: Int?
    public var journalFsyncs: Int?

    public init(version: String, uptimeSeconds: UInt64, board: String, station: String, wifi: String, wifiDetail: String?, subscribers: Int, pid: Int32,
                metering: String? = nil, journalBytes: Int? = nil, journalFsyncs: Int? = nil) {
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.board = board
        self.station = station
        self.wifi = wifi
        self.wifiDetail = wifiDetail
        self.subscribers = subscribers
        self.pid = pid
        self.metering = metering
        self.journalBytes = journalBytes
        self.journalFsyncs = journalFsyncs
    }

    enum CodingKeys: String, CodingKey {
        case version, board, station, wifi, subscribers, pid, metering
        case journalBytes = "journal_bytes"
        case journalFsyncs = "journal_fsyncs"
        case uptimeSeconds = "uptime_s"
        case wifiDetail = "wifi_detail"
    }
}

/// `subscribers`: one subscriber seen since the daemon started.
public struct SubscriberReport: Codable, Sendable, Equatable {
    /// `mac:…` or `imsi:…`.
    public var id: String
    /// `wifi` or `lte`.
    public var kind: String
    /// Bytes from the subscriber since the daemon started.
    public var upBytes: UInt64
    /// Bytes to the subscriber since the daemon started.
    public var downBytes: UInt64
    /// Seconds in the current session (0 when not connected).
    public var connectedSeconds: UInt64
    public var connected: Bool
    /// Bytes per second over the last poll interval.
    public var upRate: Double
    public var downRate: Double
    public var signalDBm: Int?

    public init(id: String, kind: String, upBytes: UInt64, downBytes: UInt64, connectedSeconds: UInt64, connected: Bool,
                upRate: Double, downRate: Double, signalDBm: Int?) {
        self.id = id
        self.kind = kind
        self.upBytes = upBytes
        self.downBytes = downBytes
        self.connectedSeconds = connectedSeconds
        self.connected = connected
        self.upRate = upRate
        self.downRate = downRate
        self.signalDBm = signalDBm
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, connected
        case upBytes = "up_bytes"
        case downBytes = "down_bytes"
        case connectedSeconds = "connected_s"
        case upRate = "up_bps"
        case downRate = "down_bps"
        case signalDBm = "signal_dbm"
    }
}

/// One line of the `events` stream.
public struct EventReport: Codable, Sendable, Equatable {
    /// Wall-clock milliseconds since the Unix epoch.
    public var time: Int64
    /// `station-connected`, `station-disconnected`, `ap-enabled`, `degraded`, ...
    public var event: String
    public var subscriber: String?
    public var detail: String?

    public init(time: Int64, event: String, subscriber: String?, detail: String?) {
        self.time = time
        self.event = event
        self.subscriber = subscriber
        self.detail = detail
    }
}
