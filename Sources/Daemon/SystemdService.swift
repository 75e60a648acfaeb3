import Logging
import Posix

/// Talks to systemd: `READY=1` once the control socket listens, `STATUS=` as things
/// change, and `WATCHDOG=1` at half of `WATCHDOG_USEC` while the daemon is healthy.
///
/// "Healthy" means every registered heartbeat moved recently: a wedged poll loop stops
/// the keepalives, and systemd restarts the daemon.
public final class SystemdService: Service {
    public let name = "systemd"
    private let notifier: SystemdNotifier
    private let ready: AsyncStream<Void>
    public typealias Heartbeat = HealthCheck.Heartbeat

    private let health: HealthCheck
    private let status: @Sendable () -> String
    private let logger: Logger

    public init(notifier: SystemdNotifier, ready: AsyncStream<Void>,
                heartbeats: [Heartbeat],
                status: @escaping @Sendable () -> String, logger: Logger) {
        self.notifier = notifier
        self.ready = ready
        health = HealthCheck(heartbeats)
        self.status = status
        self.logger = logger
    }

    public func run() async throws {
        for await _ in ready { break }
        try Task.checkCancellation()
        notifyLogging { try notifier.ready(status: status()) }
        logger.notice("ready: \(status())")
        let tick = notifier.watchdogInterval.map { $0 / 2 } ?? .seconds(10)
        var lastStatus = ""
        while !Task.isCancelled {
            try await Task.sleep(for: min(tick, .seconds(10)))
            if let stale = health.staleHeartbeat() {
                logger.error("\(stale) has not made progress; withholding the watchdog keepalive")
            } else if notifier.watchdogInterval != nil {
                notifyLogging { try notifier.watchdogKeepalive() }
            }
            let current = status()
            if current != lastStatus {
                notifyLogging { try notifier.status(current) }
                lastStatus = current
            }
        }
        notifyLogging { try notifier.stopping() }
    }

    private func notifyLogging(_ body: () throws -> Void) {
        do { try body() } catch { logger.warning("sd_notify: \(error)") }
    }
}

/// Whether every loop of the daemon keeps moving; what the watchdogs (systemd's and the
/// board's) are fed on.
public struct HealthCheck: Sendable {
    /// A loop that must keep moving: `read` gives the monotonic time it last moved.
    public struct Heartbeat: Sendable {
        public let name: String
        public let limit: Duration
        public let read: @Sendable () -> UInt64

        public init(name: String, limit: Duration, read: @escaping @Sendable () -> UInt64) {
            self.name = name
            self.limit = limit
            self.read = read
        }
    }

    public let heartbeats: [Heartbeat]

    public init(_ heartbeats: [Heartbeat]) { self.heartbeats = heartbeats }

    /// The first loop that has not moved within its limit, if any.
    public func staleHeartbeat() -> String? {
        let now = SystemClock.monotonicNanoseconds()
        for beat in heartbeats {
            let age = Duration.nanoseconds(Int64(now &- beat.read()))
            if age > beat.limit { return beat.name }
        }
        return nil
    }
}
