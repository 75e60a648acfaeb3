import HAL
import Logging
import Posix
import Synchronization

/// The loop every subscriber source runs: while its device is up, read it each poll
/// interval; log a failure once (not once per poll); beat the heart either way, so the
/// watchdogs see a loop that is alive even while its device is away.
final class SourcePoller: Sendable {
    let what: String
    let heartbeat: Atomic<UInt64>
    let interval: @Sendable () -> Duration
    let logger: Logger

    init(what: String, interval: @escaping @Sendable () -> Duration, logger: Logger) {
        self.what = what
        heartbeat = Atomic(SystemClock.monotonicNanoseconds())
        self.interval = interval
        self.logger = logger
    }

    /// Runs until cancelled.
    func run(isUp: @Sendable () -> Bool, poll: @Sendable () async throws -> Void) async throws {
        var lastFailure = ""
        while !Task.isCancelled {
            if isUp() {
                do {
                    try await poll()
                    lastFailure = ""
                } catch let error as CancellationError {
                    throw error
                } catch {
                    let message = "\(error)"
                    if message != lastFailure { logger.warning("\(what): \(message)") }
                    lastFailure = message
                }
            }
            heartbeat.store(SystemClock.monotonicNanoseconds(), ordering: .relaxed)
            try await Task.sleep(for: interval())
        }
    }

    /// The watchdog's view of this loop.
    func healthBeat(limit: Duration) -> HealthCheck.Heartbeat {
        HealthCheck.Heartbeat(name: "\(what) loop", limit: limit) { [self] in heartbeat.load(ordering: .relaxed) }
    }
}

/// Readings in the two shapes their consumers take.
extension Array where Element == SourceReading {
    var meterReadings: [MeterReading] {
        map { MeterReading(subscriber: $0.id, counters: $0.counters, connectedSeconds: $0.connectedSeconds) }
    }
}

import Metering
