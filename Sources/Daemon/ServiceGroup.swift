import Logging

/// A part of the daemon with a lifetime: it runs until cancelled.
///
/// `run` should return promptly (well under a second) after its task is cancelled;
/// throwing from `run` is a fatal failure that stops the whole group.
public protocol Service: Sendable {
    var name: String { get }
    func run() async throws
}

/// Runs services together: started in order, stopped in reverse order.
///
/// Shutdown begins when `shutdown()` is called or any service ends or throws; each service
/// is then cancelled in reverse start order and awaited, up to `stopTimeout` in all.
public final class ServiceGroup: Sendable {
    public let services: [any Service]
    private let logger: Logger
    private let stopTimeout: Duration
    private let trigger: AsyncStream<String>.Continuation
    private let triggers: AsyncStream<String>

    public init(_ services: [any Service], logger: Logger, stopTimeout: Duration = .seconds(5)) {
        self.services = services
        self.logger = logger
        self.stopTimeout = stopTimeout
        (triggers, trigger) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(8))
    }

    /// Asks the group to stop (e.g. on SIGTERM).
    public func shutdown(reason: String) {
        trigger.yield(reason)
    }

    /// Runs every service until shutdown; rethrows the first service failure.
    public func run() async throws {
        var tasks: [Task<Void, Never>] = []
        let failures = FailureBox()
        for service in services {
            logger.debug("starting \(service.name)")
            tasks.append(Task {
                do {
                    try await service.run()
                    if !Task.isCancelled { self.shutdown(reason: "\(service.name) ended") }
                } catch {
                    if !Task.isCancelled || !(error is CancellationError) {
                        failures.record("\(service.name): \(error)")
                        self.shutdown(reason: "\(service.name) failed: \(error)")
                    }
                }
            })
            await Task.yield()
        }
        var iterator = triggers.makeAsyncIterator()
        let reason = await iterator.next() ?? "shutdown"
        logger.notice("stopping: \(reason)")
        let deadline = ContinuousClock.now + stopTimeout
        for (service, task) in zip(services, tasks).reversed() {
            task.cancel()
            let stopped = await Self.wait(for: task, until: deadline)
            if !stopped { logger.error("\(service.name) did not stop in time") }
            logger.debug("stopped \(service.name)")
        }
        if let failure = failures.first { throw ServiceFailure(message: failure) }
    }

    /// Waits for `task` to finish, or for `deadline`; true if it finished.
    private static func wait(for task: Task<Void, Never>, until deadline: ContinuousClock.Instant) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await task.value; return true }
            group.addTask { try? await Task.sleep(until: deadline); return false }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }
}

/// A service failed and took the daemon down.
public struct ServiceFailure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

import Synchronization

final class FailureBox: Sendable {
    private let storage = Mutex<[String]>([])
    func record(_ message: String) { storage.withLock { $0.append(message) } }
    var first: String? { storage.withLock { $0.first } }
}
