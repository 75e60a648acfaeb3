import Control
import HAL
import HALLinux
import Logging
import Posix
import Synchronization

/// Watches the board: keeps the hardware watchdog fed while the daemon is healthy, reads
/// the thermal zones and the CPU, follows the GPS and the radio front end, and reports
/// what it sees. A sensor that fails is a message and a degraded state, never an end.
public final class BoardService: Service {
    public let name = "board"
    private let watchdog: (any HardwareWatchdog)?
    private let thermal: any ThermalSensors
    private let cpu: any CPUMonitor
    private let gps: (any GPSReceiver)?
    private let frontEnd: (any RadioFrontEnd)?
    private let health: HealthCheck
    private let bus: EventBus
    private let logger: Logger
    private let sampleInterval: Duration
    private let keepaliveInterval: Duration
    private let latest = Mutex<(cpu: CPULoad?, zones: [ThermalReading], alarms: Set<String>, frontEnd: FrontEndStatus?)>((nil, [], [], nil))

    public init(watchdog: (any HardwareWatchdog)?, thermal: any ThermalSensors, cpu: any CPUMonitor, gps: (any GPSReceiver)?,
                frontEnd: (any RadioFrontEnd)?, health: HealthCheck, bus: EventBus, logger: Logger,
                sampleInterval: Duration = .seconds(5), keepaliveInterval: Duration = .seconds(5)) {
        self.watchdog = watchdog
        self.thermal = thermal
        self.cpu = cpu
        self.gps = gps
        self.frontEnd = frontEnd
        self.health = health
        self.bus = bus
        self.logger = logger
        self.sampleInterval = sampleInterval
        self.keepaliveInterval = keepaliveInterval
    }

    public func run() async throws {
        if let watchdog {
            do { try watchdog.start() } catch { logger.error("watchdog: \(error); the board runs without it") }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await monitorThermal(self.thermal, every: self.sampleInterval, events: { self.report($0) }) }
            group.addTask { await self.sampleCPU() }
            if let gps { group.addTask { try? await gps.run(events: { self.report($0) }) } }
            if let frontEnd { group.addTask { try? await frontEnd.run(events: { self.report($0) }) } }
            if watchdog != nil { group.addTask { await self.feedWatchdog() } }
            await group.waitForAll()
        }
        // Only a clean stop disarms the hardware watchdog; a crash never gets here.
        watchdog?.stop(clean: true)
    }

    private func report(_ event: BoardEvent) {
        switch event {
        case .thermalAlarm(let zone, _, _):
            latest.withLock { _ = $0.alarms.insert(zone) }
            logger.warning("thermal alarm: \(event.detail)")
        case .thermalCleared(let zone, _):
            latest.withLock { _ = $0.alarms.remove(zone) }
            logger.notice("thermal alarm cleared: \(event.detail)")
        case .thermalUnreadable, .degraded, .gpsNoFix, .frontEndGone:
            logger.warning("\(event.name): \(event.detail)")
        default:
            logger.info("\(event.name): \(event.detail)")
        }
        bus.publish(.board(event), time: SystemClock.wallMilliseconds())
    }

    private func sampleCPU() async {
        var lastProblem = ""
        while !Task.isCancelled {
            do {
                let load = try cpu.sample()
                latest.withLock { $0.cpu = load }
                lastProblem = ""
            } catch {
                if "\(error)" != lastProblem { logger.warning("cpu: \(error)") }
                lastProblem = "\(error)"
            }
            do { try await Task.sleep(for: sampleInterval) } catch { return }
        }
    }

    /// Feeds the watchdog only while every loop of the daemon makes progress: a wedged
    /// daemon stops feeding it and the board resets.
    private func feedWatchdog() async {
        guard let watchdog else { return }
        var withheld = false
        while !Task.isCancelled {
            if let stale = health.staleHeartbeat() {
                if !withheld { logger.error("\(stale) has not made progress; not feeding the hardware watchdog") }
                withheld = true
            } else {
                withheld = false
                do { try watchdog.keepalive() } catch { logger.error("watchdog keepalive: \(error)") }
            }
            do { try await Task.sleep(for: keepaliveInterval) } catch { return }
        }
    }

    /// The `board` command's reply.
    public func boardReport() -> BoardReport {
        let zones = (try? thermal.readZones()) ?? []
        let (load, alarms) = latest.withLock { ($0.cpu, $0.alarms) }
        return BoardReport(
            thermal: zones.map { zone in
                BoardReport.Zone(name: zone.type.map { "\(zone.zone) (\($0))" } ?? zone.zone, celsius: zone.celsius,
                                 tripCelsius: zone.alarmTrip?.celsius, alarm: alarms.contains(zone.zone), error: zone.problem)
            },
            watchdog: watchdogSummary(), gps: gpsReport(), cpuBusy: load?.busyFraction, cpuPressure10: load?.pressure?.someAvg10,
            frontEnd: frontEndSummary())
    }

    /// Adds the board's fields to `status`.
    public func contribute(to report: inout StatusReport) {
        let zones = (try? thermal.readZones()) ?? []
        report.temperatureC = zones.compactMap(\.celsius).max()
        report.thermalAlarm = latest.withLock { !$0.alarms.isEmpty }
        report.gps = gpsReport()
        report.watchdog = watchdogSummary()
    }

    private func gpsReport() -> GPSReport {
        guard let gps else { return GPSReport(fix: "none (no gpsd configured)") }
        let status = gps.status
        guard let fix = status.fix, fix.hasPosition else { return GPSReport(fix: "none") }
        return GPSReport(fix: fix.mode == .threeD ? "3d" : "2d", latitude: fix.latitude, longitude: fix.longitude, altitudeM: fix.altitude)
    }

    private func watchdogSummary() -> String {
        guard let watchdog else { return "disabled" }
        let status = watchdog.status
        if let problem = status.problem { return "failed: \(problem)" }
        return "ok (\(status.keepalives) keepalives)"
    }

    private func frontEndSummary() -> String {
        guard let frontEnd else { return "not configured" }
        let status = frontEnd.probe()
        if status.present { return "present \(status.identity?.usbID ?? "")" }
        return "absent: \(status.reason ?? "unknown")"
    }
}
