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
            let limit = initial.pollInterval * 3 + initial.commandTimeout * 4 + .seconds(10)
            heartbeats.append(SystemdService.Heartbeat(name: "wifi poll loop", limit: limit) { wifi.heartbeat.load(ordering: .relaxed) })
        }

        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        let responder = DaemonResponder(settings: { [settings] in settings.current }, table: table, metering: metering, bus: bus, wifi: accessPoint,
                                        startedAt: SystemClock.monotonicNanoseconds(),
                                        stationAddress: key.publicKey.description, reload: reload)
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

    private func makeAccessPoint(_ s: Settings) -> any AccessPoint {
        HostapdAccessPoint(ctrlInterface: s.hostapdControlDirectory, interface: s.wifiInterface, pskFile: s.pskFile,
                           counterWidth: s.counterWidth, commandTimeout: s.commandTimeout, logger: logger.child("hostapd"))
    }
}
