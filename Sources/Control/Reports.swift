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

/// `radio`: the cell's configuration, state and attached subscribers.
public struct RadioReport: Codable, Sendable, Equatable {
    public struct Attached: Codable, Sendable, Equatable {
        public var id: String
        public var ip: String?
        public var attachedSeconds: UInt64?
        public var upBytes: UInt64?
        public var downBytes: UInt64?

        public init(id: String, ip: String?, attachedSeconds: UInt64?, upBytes: UInt64?, downBytes: UInt64?) {
            self.id = id
            self.ip = ip
            self.attachedSeconds = attachedSeconds
            self.upBytes = upBytes
            self.downBytes = downBytes
        }

        enum CodingKeys: String, CodingKey {
            case id, ip
            case attachedSeconds = "attached_s"
            case upBytes = "up_bytes"
            case downBytes = "down_bytes"
        }
    }

    /// `up`, `down` or `degraded`.
    public var state: String
    public var device: String
    /// Whether the cell configuration was applied, and what waits for a restart.
    public var configuration: String
    public var band: String
    public var channel: Int
    public var mcc: String
    public var mnc: String
    public var lac: Int
    public var cellID: Int
    public var transmitPowerDBm: Double
    public var capacity: Int
    public var attached: [Attached]

    public init(state: String, device: String, configuration: String, band: String, channel: Int, mcc: String, mnc: String,
                lac: Int, cellID: Int, transmitPowerDBm: Double, capacity: Int, attached: [Attached]) {
        self.state = state
        self.device = device
        self.configuration = configuration
        self.band = band
        self.channel = channel
        self.mcc = mcc
        self.mnc = mnc
        self.lac = lac
        self.cellID = cellID
        self.transmitPowerDBm = transmitPowerDBm
        self.capacity = capacity
        self.attached = attached
    }

    enum CodingKeys: String, CodingKey {
        case state, device, configuration, band, channel, mcc, mnc, lac, capacity, attached
        case cellID = "cell_id"
        case transmitPowerDBm = "transmit_power_dbm"
    }
}

/// `board`: the board's devices.
public struct BoardReport: Codable, Sendable, Equatable {
    public struct Zone: Codable, Sendable, Equatable {
        public var name: String
        public var celsius: Double?
        public var tripCelsius: Double?
        public var alarm: Bool
        /// Why the zone could not be read.
        public var error: String?

        public init(name: String, celsius: Double?, tripCelsius: Double?, alarm: Bool, error: String?) {
            self.name = name
            self.celsius = celsius
            self.tripCelsius = tripCelsius
            self.alarm = alarm
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case name, alarm, error
            case celsius = "celsius"
            case tripCelsius = "trip_celsius"
        }
    }

    public var thermal: [Zone]
    /// `ok (N keepalives)`, `disabled`, or what went wrong.
    public var watchdog: String
    public var gps: GPSReport
    /// Fraction of CPU time busy over the last sample, 0...1.
    public var cpuBusy: Double?
    /// PSI `some avg10` for the CPU, in percent.
    public var cpuPressure10: Double?
    /// The radio front end: present with its identity, or why not.
    public var frontEnd: String

    public init(thermal: [Zone], watchdog: String, gps: GPSReport, cpuBusy: Double?, cpuPressure10: Double?, frontEnd: String) {
        self.thermal = thermal
        self.watchdog = watchdog
        self.gps = gps
        self.cpuBusy = cpuBusy
        self.cpuPressure10 = cpuPressure10
        self.frontEnd = frontEnd
    }

    enum CodingKeys: String, CodingKey {
        case thermal, watchdog, gps
        case cpuBusy = "cpu_busy"
        case cpuPressure10 = "cpu_pressure_avg10"
        case frontEnd = "front_end"
    }
}

/// `chain-status`: the chain node at a glance.
public struct ChainStatusReport: Codable, Sendable, Equatable {
    /// The fork-choice head's height (0: the genesis).
    public var height: UInt64
    /// The last final block's height.
    public var finalHeight: UInt64
    /// The head block's id (64 hex digits; zeros for the genesis).
    public var head: String
    /// The producers of the head's round, in slot order (64 hex digits each).
    public var producers: [String]
    /// Peers connected (no peer-to-peer network yet: 0).
    public var peers: Int
    /// True while the node replays its stored blocks after a start.
    public var syncing: Bool

    public init(height: UInt64, finalHeight: UInt64, head: String, producers: [String], peers: Int, syncing: Bool) {
        self.height = height
        self.finalHeight = finalHeight
        self.head = head
        self.producers = producers
        self.peers = peers
        self.syncing = syncing
    }

    enum CodingKeys: String, CodingKey {
        case height, head, producers, peers, syncing
        case finalHeight = "final_height"
    }
}

/// `chain-block`: one block's header and its transaction ids.
public struct ChainBlockReport: Codable, Sendable, Equatable {
    public var height: UInt64
    public var id: String
    public var parent: String
    /// Unix time, milliseconds.
    public var timestampMs: UInt64
    public var slot: UInt64
    public var producer: String
    public var transactionsRoot: String
    public var stateRoot: String
    /// The block its quorum certificate (`justify`) certifies, if it carries one.
    public var justifyHeight: UInt64?
    public var justifyBlock: String?
    /// Whether the block is final.
    public var final: Bool
    /// Bytes of the block's encoding.
    public var size: Int
    /// Transaction ids, in block order.
    public var transactions: [String]

    public init(height: UInt64, id: String, parent: String, timestampMs: UInt64, slot: UInt64, producer: String,
                transactionsRoot: String, stateRoot: String, justifyHeight: UInt64?, justifyBlock: String?,
                final: Bool, size: Int, transactions: [String]) {
        self.height = height
        self.id = id
        self.parent = parent
        self.timestampMs = timestampMs
        self.slot = slot
        self.producer = producer
        self.transactionsRoot = transactionsRoot
        self.stateRoot = stateRoot
        self.justifyHeight = justifyHeight
        self.justifyBlock = justifyBlock
        self.final = final
        self.size = size
        self.transactions = transactions
    }

    enum CodingKeys: String, CodingKey {
        case height, id, parent, slot, producer, final, size, transactions
        case timestampMs = "timestamp_ms"
        case transactionsRoot = "transactions_root"
        case stateRoot = "state_root"
        case justifyHeight = "justify_height"
        case justifyBlock = "justify_block"
    }
}

/// `chain-account`: an account at the head.
public struct ChainAccountReport: Codable, Sendable, Equatable {
    public var address: String
    /// QLC with all 8 decimals (`"1.50000000"`).
    public var balance: String
    /// The balance in base units (10^8 a QLC).
    public var balanceUnits: UInt64
    /// The nonce of its last transaction (0: none yet); the next one carries nonce + 1.
    public var nonce: UInt64
    /// The producers it votes for.
    public var votes: [String]
    /// The head height the account was read at.
    public var height: UInt64

    public init(address: String, balance: String, balanceUnits: UInt64, nonce: UInt64, votes: [String], height: UInt64) {
        self.address = address
        self.balance = balance
        self.balanceUnits = balanceUnits
        self.nonce = nonce
        self.votes = votes
        self.height = height
    }

    enum CodingKeys: String, CodingKey {
        case address, balance, nonce, votes, height
        case balanceUnits = "balance_units"
    }
}

/// `chain-tx-submit`: a transaction the mempool accepted.
public struct ChainSubmitReport: Codable, Sendable, Equatable {
    /// The transaction id (64 hex digits).
    public var id: String
    public var sender: String
    public var nonce: UInt64
    /// `transfer`, `vote`, `registerProducer`, ...
    public var payload: String

    public init(id: String, sender: String, nonce: UInt64, payload: String) {
        self.id = id
        self.sender = sender
        self.nonce = nonce
        self.payload = payload
    }
}

/// `chain-keys`: the station's identity on the chain.
public struct ChainKeysReport: Codable, Sendable, Equatable {
    /// The station's account and producer signing key (64 hex digits).
    public var address: String
    /// The chain's id (64 hex digits) and name, from its genesis.
    public var chainID: String
    public var chainName: String

    public init(address: String, chainID: String, chainName: String) {
        self.address = address
        self.chainID = chainID
        self.chainName = chainName
    }

    enum CodingKeys: String, CodingKey {
        case address
        case chainID = "chain_id"
        case chainName = "chain_name"
    }
}
