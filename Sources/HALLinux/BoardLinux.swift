import HAL
import Logging

/// Where the Linux board backends find their devices. Every path is a config key, so the
/// whole board can be pointed at hal-sim's tree instead of the real `/dev`, `/sys`, `/proc`.
public struct LinuxBoardConfiguration: Sendable, Hashable {
    /// The watchdog device; nil runs without one (a laptop, a container).
    public var watchdogPath: String?
    /// The reset timeout to ask the watchdog for (WDIOC_SETTIMEOUT); nil keeps the driver's.
    public var watchdogTimeoutSeconds: Int?
    public var thermalRoot: String
    public var procRoot: String
    /// gpsd's address; a nil host runs without GPS.
    public var gpsdHost: String?
    public var gpsdPort: UInt16
    /// The radio front end's USB id (`vvvv:pppp` from the board profile); nil when it is not on USB.
    public var frontEndVendorID: UInt16?
    public var frontEndProductID: UInt16?

    public init(watchdogPath: String? = "/dev/watchdog", watchdogTimeoutSeconds: Int? = nil,
                thermalRoot: String = "/sys/class/thermal", procRoot: String = "/proc",
                gpsdHost: String? = "127.0.0.1", gpsdPort: UInt16 = 2947,
                frontEndVendorID: UInt16? = nil, frontEndProductID: UInt16? = nil) {
        self.watchdogPath = watchdogPath
        self.watchdogTimeoutSeconds = watchdogTimeoutSeconds
        self.thermalRoot = thermalRoot
        self.procRoot = procRoot
        self.gpsdHost = gpsdHost
        self.gpsdPort = gpsdPort
        self.frontEndVendorID = frontEndVendorID
        self.frontEndProductID = frontEndProductID
    }
}

/// The Linux board's backends, made from one configuration.
public struct LinuxBoard: Sendable {
    public let watchdog: LinuxWatchdog?
    public let thermal: SysfsThermal
    public let cpu: ProcCPU
    public let gps: GPSDClient?
    public let frontEnd: LibUSBFrontEnd?

    public init(_ configuration: LinuxBoardConfiguration, logger: Logger, gpsdTiming: GPSDTiming = GPSDTiming()) {
        watchdog = configuration.watchdogPath.map { LinuxWatchdog(path: $0, timeoutSeconds: configuration.watchdogTimeoutSeconds) }
        thermal = SysfsThermal(root: configuration.thermalRoot)
        cpu = ProcCPU(procRoot: configuration.procRoot)
        gps = configuration.gpsdHost.map { GPSDClient(host: $0, port: configuration.gpsdPort, logger: logger, timing: gpsdTiming) }
        if let vendor = configuration.frontEndVendorID, let product = configuration.frontEndProductID {
            frontEnd = LibUSBFrontEnd(vendorID: vendor, productID: product, logger: logger)
        } else {
            frontEnd = nil
        }
    }
}

/// Reads the thermal zones every `interval` and reports alarms, clears, and zones that
/// cannot be read (or cannot even be listed: `.degraded` once, `.restored` when they can
/// again), until the task is cancelled. Never throws; a bad sensor is an event, not an end.
public func monitorThermal(_ sensors: some ThermalSensors, every interval: Duration, alarms: ThermalAlarms = ThermalAlarms(),
                           device: String = "thermal", events: BoardEventSink) async {
    var alarms = alarms
    var unlistable: String?
    while !Task.isCancelled {
        do {
            let readings = try sensors.readZones()
            if unlistable != nil {
                unlistable = nil
                events(.restored(device: device))
            }
            for event in alarms.update(readings) { events(event) }
        } catch {
            let reason = (error as? HALError)?.message ?? "\(error)"
            if unlistable != reason { events(.degraded(device: device, reason: reason)) }
            unlistable = reason
        }
        do { try await Task.sleep(for: interval) } catch { return }
    }
}
