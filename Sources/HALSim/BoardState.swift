#if canImport(Glibc)
import Glibc
#endif

/// Something worth a line in hal-sim's log (a missed watchdog deadline, a trip point crossed).
public struct WorldNotice: Sendable, Equatable {
    public enum Level: Sendable, Equatable { case info, notice, warning }
    public let level: Level
    public let message: String
}

/// A file's state as `stat` reports it: enough to see that someone wrote to it.
public struct FileStamp: Sendable, Equatable {
    public var size: Int
    public var modifiedNanoseconds: Int64
    public var inode: UInt64

    public init(size: Int, modifiedNanoseconds: Int64, inode: UInt64) {
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
        self.inode = inode
    }
}

/// The watchdog "device" `DIR/dev/watchdog`, a plain file: the Linux backend writes one byte
/// per keepalive (its WDIOC_KEEPALIVE ioctl fails with ENOTTY) and `V` before a clean close,
/// each at its file offset (it opens the file write-only, without O_APPEND).
///
/// hal-sim watches the file's size, mtime and content each tick: a change is a write; the file
/// growing by n bytes is n writes; the newest write is the highest byte that changed, and
/// a `V` there is the magic close (it counts as no keepalive). The timer is armed by a
/// keepalive and disarmed by the magic close; armed, more than `timeout` real seconds without
/// a keepalive is one missed deadline (a real board would reset).
public struct WatchdogStatus: Sendable, Equatable {
    public static let timeout = 15.0

    public var keepalives: UInt64 = 0
    /// The world's real time of the last keepalive.
    public var lastKeepalive: Double?
    public var missed = 0
    public var magicClose = false
    /// Whether the current gap was already counted as missed.
    var overdue = false
    var stamp: FileStamp?
    var content: [UInt8] = []

    public var armed: Bool { keepalives > 0 && !magicClose }

    /// Takes a fresh look at the file (nil: it is gone) at real time `now`.
    mutating func observe(_ stamp: FileStamp?, content: [UInt8], at now: Double) -> [WorldNotice] {
        guard stamp != self.stamp else { return [] }
        defer { self.stamp = stamp; self.content = content }
        guard let stamp, stamp.size > 0 else { return [] }
        let previous = (self.stamp?.inode == stamp.inode && self.stamp.map({ $0.size <= stamp.size }) ?? false) ? self.content : []
        let newest = content.indices.last { $0 >= previous.count || content[$0] != previous[$0] }
        let writes = max(1, content.count - previous.count)
        let closing = newest.map { content[$0] == UInt8(ascii: "V") } ?? false
        let wasClosed = magicClose
        keepalives += UInt64(closing ? writes - 1 : writes)
        if !closing || writes > 1 { lastKeepalive = now; overdue = false }
        magicClose = closing
        if closing { return [WorldNotice(level: .notice, message: "watchdog: magic close (V): timer disarmed after \(keepalives) keepalives")] }
        if wasClosed || keepalives == UInt64(writes) {
            return [WorldNotice(level: .info, message: "watchdog: keepalives started: timer armed (\(formatNumber(Self.timeout))s)")]
        }
        return []
    }

    /// Counts a missed deadline once per gap.
    mutating func check(at now: Double) -> [WorldNotice] {
        guard armed, !overdue, let last = lastKeepalive, now - last > Self.timeout else { return [] }
        overdue = true
        missed += 1
        return [WorldNotice(level: .warning, message: "watchdog: no keepalive for \(formatNumber(Self.timeout))s: deadline missed (\(missed) so far; a real board would reset now)")]
    }
}

/// One thermal zone under `DIR/sys/class/thermal`, in millidegrees Celsius.
public struct ThermalZoneReading: Sendable, Equatable {
    public let name: String
    public let type: String
    public let milliCelsius: Int
    public let tripMilliCelsius: Int
    public let tripType: String
}

/// The board's two thermal zones: the CPU (`thermal_zone0`, follows all traffic) and the
/// radio's power amplifier (`thermal_zone1`, follows UE traffic and transmit power). Each
/// relaxes towards its load's temperature with a 20 s (real) time constant; a spike adds
/// 30 °C to both and holds each at least 5 °C above its 85 °C trip point.
struct ThermalState: Sendable {
    static let tripMilli = 85_000
    static let timeConstant = 20.0
    static let spikeCelsius = 30.0

    var cpu: Double
    var pa: Double
    var spikeUntil: Double?
    var tripped: Set<String> = []

    init(radioUp: Bool, attenuation: Int) {
        cpu = Self.cpuTarget(load: 0)
        pa = Self.paTarget(load: 0, radioUp: radioUp, attenuation: attenuation)
    }

    static func cpuTarget(load: Double) -> Double { 42 + 30 * load }
    static func paTarget(load: Double, radioUp: Bool, attenuation: Int) -> Double {
        38 + 22 * load + (radioUp ? 6 : 0) + 0.4 * Double(max(0, 20 - attenuation))
    }

    /// Lets `dt` real seconds pass at the given byte rates (bytes per real second).
    mutating func update(dt: Double, allRate: Double, lteRate: Double, radioUp: Bool, attenuation: Int) {
        let follow = 1 - exp(-dt / Self.timeConstant)
        cpu += (Self.cpuTarget(load: 1 - exp(-allRate / 20e6)) - cpu) * follow
        pa += (Self.paTarget(load: 1 - exp(-lteRate / 2e6), radioUp: radioUp, attenuation: attenuation) - pa) * follow
    }

    /// The zones as the files show them at real time `now`: 100 m°C steps with ±0.2 °C of
    /// deterministic jitter that changes once a real second.
    func readings(at now: Double) -> [ThermalZoneReading] {
        let spiking = spikeUntil.map { now < $0 } ?? false
        return [("thermal_zone0", "cpu-thermal", cpu), ("thermal_zone1", "pa-thermal", pa)].enumerated().map { index, zone in
            var celsius = zone.2
            if spiking { celsius = max(celsius + Self.spikeCelsius, Double(Self.tripMilli) / 1000 + 5) }
            let jitter = Int(SimRandom.hashUnit(UInt64(index), UInt64(max(0, now))) * 5) * 100 - 200
            let milli = Int((celsius * 10).rounded()) * 100 + jitter
            return ThermalZoneReading(name: zone.0, type: zone.1, milliCelsius: milli, tripMilliCelsius: Self.tripMilli, tripType: "passive")
        }
    }

    /// Notices for zones that crossed their trip point either way since the last call.
    mutating func tripNotices(at now: Double) -> [WorldNotice] {
        var notices: [WorldNotice] = []
        for zone in readings(at: now) {
            let hot = zone.milliCelsius >= zone.tripMilliCelsius
            guard hot != tripped.contains(zone.name) else { continue }
            if hot { tripped.insert(zone.name) } else { tripped.remove(zone.name) }
            let celsius = formatNumber(Double(zone.milliCelsius) / 1000)
            notices.append(WorldNotice(level: hot ? .warning : .notice,
                                       message: "thermal: \(zone.name) (\(zone.type)) \(hot ? "reached" : "back below") its trip point: \(celsius) °C"))
        }
        return notices
    }
}

/// A position for the emulated GPS receiver.
public struct GPSPosition: Sendable, Equatable {
    public var latitude: Double
    public var longitude: Double
    /// Metres above mean sea level.
    public var altitude: Double

    public init(latitude: Double, longitude: Double, altitude: Double = 34) {
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
    }

    /// Berlin, Alexanderplatz.
    public static let standard = GPSPosition(latitude: 52.520008, longitude: 13.404954, altitude: 34)
}

/// The board around the radios, as the world models it.
struct BoardState: Sendable {
    var watchdog = WatchdogStatus()
    var thermal: ThermalState
    var frontendPresent = true
    var gpsFix = true
}

/// The simulated board at a glance: what its files and gpsd must show now.
public struct BoardSnapshot: Sendable, Equatable {
    public var zones: [ThermalZoneReading]
    public var frontendPresent: Bool
    public var gpsFix: Bool
    public var position: GPSPosition
    public var watchdog: WatchdogStatus
    /// The world's real time the snapshot was taken at.
    public var realTime: Double
}
