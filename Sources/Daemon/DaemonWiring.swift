import Control
import Crypto
import HAL
import HALLinux
import Logging
import Posix

/// Builds the daemon's services from its settings, in start order.
struct DaemonWiring {
    let settings: SettingsStore
    let key: SigningKey
    let logger: Logger
    let reload: @Sendable () async -> Result<String, ConfigError>

    func serviceGroup() throws -> ServiceGroup {
        let initial = settings.current
        let table = SubscriberTable()
        let bus = EventBus()
        var services: [any Service] = []
        var heartbeats: [SystemdService.Heartbeat] = []
        let metering = try MeteringService(settings: initial, key: key, logger: logger.child("metering"))
        services.append(metering)

        let accessPoint: (any AccessPoint)? = initial.wifiEnabled ? makeAccessPoint(initial) : nil
        if let accessPoint {
            let store = settings
            let wifi = WiFiService(accessPoint: accessPoint, accounting: try makeAccounting(initial), table: table, metering: metering, bus: bus,
                                   pollInterval: { store.current.pollInterval }, logger: logger.child("wifi"))
            services.append(wifi)
            heartbeats.append(wifi.poller.healthBeat(limit: pollLoopLimit(initial)))
        }

        var handlers: [String: ControlHandler] = [:]
        var statusContributors: [StatusContributor] = []
        if initial.radio.enabled {
            let store = settings
            let radio = RadioService(radio: makeRadio(initial), configuration: initial.radio.cell, table: table, metering: metering, bus: bus,
                                     pollInterval: { store.current.pollInterval }, logger: logger.child("radio"))
            services.append(radio)
            heartbeats.append(radio.poller.healthBeat(limit: pollLoopLimit(initial)))
            handlers["radio"] = { _ in ControlReplies.success(await radio.report()) }
            statusContributors.append { report in
                report.radio = radio.radio.state.rawValue
                report.radioDetail = radio.radio.name
            }
        } else {
            handlers["radio"] = { _ in ControlReplies.failure("the radio is disabled ([radio] enabled = no)") }
        }

        if initial.chain.enabled {
            let chain = try ChainService(settings: initial, key: key, logger: logger.child("chain"))
            services.append(chain)
            heartbeats.append(chain.healthBeat())
            handlers.merge(chain.handlers) { $1 }
            statusContributors.append { report in chain.contribute(to: &report) }
        }

        let board = makeBoard(initial, health: HealthCheck(heartbeats), bus: bus)
        services.append(board)
        handlers["board"] = { _ in ControlReplies.success(board.boardReport()) }
        statusContributors.append { report in board.contribute(to: &report) }

        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        let responder = DaemonResponder(settings: { [settings] in settings.current }, table: table, metering: metering, bus: bus, wifi: accessPoint,
                                        startedAt: SystemClock.monotonicNanoseconds(),
                                        stationAddress: key.publicKey.description, reload: reload,
                                        handlers: handlers, statusContributors: statusContributors)
        services.append(ControlServer(path: initial.controlSocket, group: initial.controlGroup,
                                      maximumClients: initial.maximumControlClients, responder: responder,
                                      logger: logger.child("control"), onListening: { readyContinuation.yield() }))
        let status: @Sendable () -> String = {
            "\(table.connectedCount) subscribers; wifi \(accessPoint?.state.rawValue ?? "disabled")"
        }
        services.append(SystemdService(notifier: SystemdNotifier(), ready: ready, heartbeats: heartbeats,
                                       status: status, logger: logger.child("systemd")))
        return ServiceGroup(services, logger: logger)
    }

    /// hostapd's RADIUS accounting listener, when configured; its secret comes from a file.
    private func makeAccounting(_ s: Settings) throws -> RADIUSAccountingServer? {
        guard let endpoint = s.accountingEndpoint else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(s.accountingSecretFile) } catch {
            throw ConfigError(nil, "wifi.accounting_secret_file: \(error)")
        }
        let secret = String(decoding: bytes, as: UTF8.self).trimmingWhitespace().trimmingCharacters(in: "\n")
        return try RADIUSAccountingServer(endpoint: endpoint, secret: secret, logger: logger.child("radius"))
    }

    /// How long a poll loop may go without a beat before the daemon counts as wedged.
    private func pollLoopLimit(_ s: Settings) -> Duration {
        s.pollInterval * 3 + s.commandTimeout * 4 + .seconds(10)
    }

    private func makeBoard(_ s: Settings, health: HealthCheck, bus: EventBus) -> BoardService {
        let frontEnd: (any RadioFrontEnd)?
        switch s.board.frontEnd {
        case .none: frontEnd = nil
        case .usb(let vendor, let product): frontEnd = LibUSBFrontEnd(vendorID: vendor, productID: product, logger: logger.child("frontend"))
        case .presenceFile(let path): frontEnd = PresenceFileFrontEnd(path: path)
        }
        let gps = s.board.gpsd.map { GPSDClient(host: $0.host, port: $0.port, logger: logger.child("gpsd")) }
        return BoardService(watchdog: s.board.watchdog.map { LinuxWatchdog(path: $0) }, thermal: SysfsThermal(root: s.board.thermalRoot),
                            cpu: ProcCPU(procRoot: s.board.procRoot), gps: gps, frontEnd: frontEnd, health: health, bus: bus,
                            logger: logger.child("board"))
    }

    private func makeRadio(_ s: Settings) -> any Radio {
        switch s.radio.backend {
        case .openbts:
            OpenBTSRadio(host: s.radio.host, port: s.radio.port, calibration: PowerCalibration(maximumOutputDBm: s.radio.maximumOutputDBm),
                         counterWidth: .bits64, commandTimeout: s.commandTimeout,
                         stateFile: s.runtimeDirectory + "/openbts-attach.json", logger: logger.child("openbts"))
        }
    }

    private func makeAccessPoint(_ s: Settings) -> any AccessPoint {
        HostapdAccessPoint(ctrlInterface: s.hostapdControlDirectory, interface: s.wifiInterface, pskFile: s.pskFile,
                           counterWidth: s.counterWidth, commandTimeout: s.commandTimeout, logger: logger.child("hostapd"))
    }
}
