import HAL
import Synchronization

/// Fans HAL events out to whoever listens (the control socket's `events` clients).
///
/// Each listener has a bounded buffer: a listener that stops reading loses its oldest
/// events rather than growing the daemon's memory.
public final class EventBus: Sendable {
    public struct Stamped: Sendable {
        /// Wall-clock milliseconds since the epoch.
        public let time: Int64
        public let event: HALEvent
    }

    private let listeners = Mutex<[UInt64: AsyncStream<Stamped>.Continuation]>([:])
    private let nextID = Atomic<UInt64>(0)
    private let bufferSize: Int

    public init(bufferSize: Int = 1024) { self.bufferSize = bufferSize }

    public func publish(_ event: HALEvent, time: Int64) {
        let stamped = Stamped(time: time, event: event)
        for continuation in listeners.withLock({ Array($0.values) }) { continuation.yield(stamped) }
    }

    /// A stream of every event published from now on, until the stream is dropped.
    public func subscribe() -> AsyncStream<Stamped> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: Stamped.self, bufferingPolicy: .bufferingNewest(bufferSize))
        continuation.onTermination = { [weak self] _ in self?.listeners.withLock { _ = $0.removeValue(forKey: id) } }
        listeners.withLock { $0[id] = continuation }
        return stream
    }

    public var listenerCount: Int { listeners.withLock { $0.count } }
}
