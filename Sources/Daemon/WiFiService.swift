import HAL
import HALLinux
import Logging
import Metering
import Posix
import Synchronization

/// Drives the Wi-Fi access point: keeps the backend connected, turns its events into
/// subscriber sessions, and reads every station's counters each poll.
public final class WiFiService: Service {
    public let name = "wifi"
    public let accessPoint: any AccessPoint
    private let accounting: RADIUSAccountingServer?
    private let table: SubscriberTable
    private let metering: MeteringService?
    private let bus: EventBus
    private let logger: Logger
    let poller: SourcePoller

    public init(accessPoint: any AccessPoint, accounting: RADIUSAccountingServer? = nil, table: SubscriberTable,
                metering: MeteringService?, bus: EventBus, pollInterval: @escaping @Sendable () -> Duration, logger: Logger) {
        self.accessPoint = accessPoint
        self.accounting = accounting
        self.table = table
        self.metering = metering
        self.bus = bus
        self.logger = logger
        poller = SourcePoller(what: "reading stations", interval: pollInterval, logger: logger)
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.accessPoint.run(events: { self.handle($0) }) }
            group.addTask { try await self.poller.run(isUp: { self.accessPoint.state == .up }, poll: self.poll) }
            if let accounting {
                group.addTask { try await accounting.run(events: { self.handle($0) }) }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Called by the backend in the order events arrive, before any later reply is
    /// delivered, so a poll never sees a session the table does not know has begun.
    private func handle(_ event: HALEvent) {
        let now = SystemClock.monotonicNanoseconds()
        let time = SystemClock.wallMilliseconds()
        switch event {
        case .stationConnected(let id):
            table.connected(id, at: now)
            metering?.sessionStarted(id)
            logger.info("\(id) connected")
        case .stationDisconnected(let id, let final):
            table.disconnected(id, finalCounters: final, at: now)
            logger.info("\(id) disconnected")
            if let metering {
                // Reported closed only once its final reading is durable.
                metering.sessionEnded(id, finalCounters: final) { [bus] in bus.publish(event, time: time) }
                return
            }
        case .countersReset(let device):
            table.sourceReset(scheme: .mac)
            metering?.sourceRestarted(.mac)
            logger.notice("\(device) restarted: every Wi-Fi session starts again")
        case .degraded(let device, let reason):
            logger.warning("\(device) degraded: \(reason)")
        case .restored(let device):
            logger.notice("\(device) restored")
        case .accessPointEnabled, .accessPointDisabled:
            logger.notice("\(accessPoint.name): \(event.name)")
        case .finalCounters(let id, let counters, let seconds):
            metering?.finalCounters(id, counters, sessionSeconds: seconds)
            logger.debug("\(id) final counters: up \(counters.upBytes), down \(counters.downBytes)")
            return
        case .subscriberAttached, .subscriberDetached, .attachRefused, .board:
            logger.warning("\(accessPoint.name) reported a cellular event: \(event.name)")
        }
        bus.publish(event, time: time)
    }

    private func poll() async throws {
        let taken = SystemClock.monotonicNanoseconds()
        let stations = try await accessPoint.stations()
        let readings = stations.map { SourceReading(id: $0.subscriber, counters: $0.counters, connectedSeconds: $0.connectedSeconds, signalDBm: $0.signalDBm) }
        table.observe(readings, scheme: .mac, at: SystemClock.monotonicNanoseconds())
        metering?.observe(readings.meterReadings, scheme: .mac, taken: taken)
    }
}
