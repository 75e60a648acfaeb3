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
    /// The cellular radio: `up`, `down` or `degraded`, and why.
    public var radio: String?
    public var radioDetail: String?
    /// The GPS fix: `none`, `2d` or `3d`, with the position when there is one.
    public var gps: GPSReport?
    /// The hottest thermal zone, in °C, and whether any zone is over its trip point.
    public var temperatureC: Double?
    public var thermalAlarm: Bool?
    /// The hardware watchdog: `ok`, `disabled`, or what went wrong.
    public var watchdog: String?
    /// The chain node: its head and last final height.
    public var chainHeight: UInt64?
    public var chainFinalHeight: UInt64?

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
        case radio, gps, watchdog
        case radioDetail = "radio_detail"
        case temperatureC = "temperature_c"
        case thermalAlarm = "thermal_alarm"
        case chainHeight = "chain_height"
        case chainFinalHeight = "chain_final_height"
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

/// A GPS fix as `status` reports it.
public struct GPSReport: Codable, Sendable, Equatable {
    /// `none`, `2d` or `3d`.
    public var fix: String
    public var latitude: Double?
    public var longitude: Double?
    public var altitudeM: Double?
    /// Wall-clock milliseconds of the fix, from the receiver.
    public var time: Int64?

    public init(fix: String, latitude: Double? = nil, longitude: Double? = nil, altitudeM: Double? = nil, time: Int64? = nil) {
        self.fix = fix
        self.latitude = latitude
        self.longitude = longitude
        self.altitudeM = altitudeM
        self.time = time
    }

    enum CodingKeys: String, CodingKey {
        case fix, time
        case latitude = "lat"
        case longitude = "lon"
        case altitudeM = "alt_m"
    }
}
