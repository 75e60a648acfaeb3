import Control
import HAL
import Logging
import Metering
import Posix
import Synchronization

/// Drives the cellular radio: keeps the backend connected, applies the cell configuration
/// whenever the stack (re)appears, turns attaches and detaches into sessions, and reads
/// every subscriber's counters each poll.
public final class RadioService: Service {
    public let name = "radio"
    public let radio: any Radio
    private let configuration: CellConfiguration
    private let table: SubscriberTable
    private let metering: MeteringService
    private let bus: EventBus
    private let logger: Logger
    let poller: SourcePoller
    /// The configuration must be (re)applied: at start and after the stack restarted.
    private let needsApply = Atomic<Bool>(true)
    private let lastApply = Mutex<String>("not applied yet")

    public init(radio: any Radio, configuration: CellConfiguration, table: SubscriberTable, metering: MeteringService,
                bus: EventBus, pollInterval: @escaping @Sendable () -> Duration, logger: Logger) {
        self.radio = radio
        self.configuration = configuration
        self.table = table
        self.metering = metering
        self.bus = bus
        self.logger = logger
        poller = SourcePoller(what: "radio", interval: pollInterval, logger: logger)
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.radio.run(events: { self.handle($0) }) }
            group.addTask { try await self.poller.run(isUp: { self.radio.state == .up }, poll: self.poll) }
            try await group.next()
            group.cancelAll()
        }
    }

    private func handle(_ event: HALEvent) {
        let now = SystemClock.monotonicNanoseconds()
        let time = SystemClock.wallMilliseconds()
        switch event {
        case .subscriberAttached(let id):
            table.connected(id, at: now)
            metering.sessionStarted(id)
            logger.info("\(id) attached")
        case .subscriberDetached(let id, let final):
            table.disconnected(id, finalCounters: final, at: now)
            logger.info("\(id) detached")
            metering.sessionEnded(id, finalCounters: final) { [bus] in bus.publish(event, time: time) }
            return
        case .finalCounters(let id, let counters, let seconds):
            // A session that began and ended between two polls (or while qlinkd was down).
            metering.finalCounters(id, counters, sessionSeconds: seconds)
            logger.info("\(id) detached before a poll saw it: up \(counters.upBytes), down \(counters.downBytes)")
            return
        case .attachRefused(let id, let reason):
            logger.notice("\(id) refused: \(reason)")
        case .countersReset(let device):
            table.sourceReset(scheme: .imsi)
            metering.sourceRestarted(.imsi)
            needsApply.store(true, ordering: .relaxed)
            logger.notice("\(device) restarted: every cellular session starts again")
        case .degraded(let device, let reason):
            logger.warning("\(device) degraded: \(reason)")
        case .restored(let device):
            logger.notice("\(device) restored")
        default:
            logger.debug("\(radio.name): \(event.name)")
        }
        bus.publish(event, time: time)
    }

    private func poll() async throws {
        let taken = SystemClock.monotonicNanoseconds()
        if needsApply.exchange(false, ordering: .relaxed) { try await apply() }
        let readings = try await radio.subscribers().map { SourceReading(id: $0.id, counters: $0.counters, connectedSeconds: $0.attachedSeconds) }
        table.observe(readings, scheme: .imsi, at: SystemClock.monotonicNanoseconds())
        metering.observe(readings.meterReadings, scheme: .imsi, taken: taken)
    }

    private func apply() async throws {
        do {
            let result = try await radio.apply(configuration)
            let summary = result.needsRestart.isEmpty ? "applied" : "applied; \(result.needsRestart.joined(separator: ", ")) take effect when the radio stack restarts"
            lastApply.withLock { $0 = summary }
            logger.notice("cell configuration \(summary)")
        } catch {
            needsApply.store(true, ordering: .relaxed)
            lastApply.withLock { $0 = "refused: \(error)" }
            throw error
        }
    }

    /// The `radio` command's reply.
    public func report() async -> RadioReport {
        let attached = (try? await radio.subscribers()) ?? []
        return RadioReport(state: radio.state.rawValue, device: radio.name, configuration: lastApply.withLock { $0 },
                           band: configuration.band.rawValue, channel: configuration.channel, mcc: configuration.mcc, mnc: configuration.mnc,
                           lac: configuration.lac, cellID: configuration.cellID, transmitPowerDBm: configuration.transmitPowerDBm,
                           capacity: configuration.capacity,
                           attached: attached.map { RadioReport.Attached(id: $0.id.description, ip: $0.ipAddress, attachedSeconds: $0.attachedSeconds,
                                                                         upBytes: $0.counters?.upBytes, downBytes: $0.counters?.downBytes) })
    }
}
