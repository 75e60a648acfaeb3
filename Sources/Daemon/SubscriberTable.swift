import HAL
import Synchronization

/// Every subscriber seen since the daemon started, with the bytes it moved.
///
/// Counters at the source are cumulative per session; the table takes deltas between
/// readings of the same session. A new session (connect event, or a source restart)
/// starts from zero, so its first reading counts everything since association.
public final class SubscriberTable: Sendable {
    public struct Entry: Sendable, Equatable {
        public let id: SubscriberID
        public var upBytes: UInt64 = 0
        public var downBytes: UInt64 = 0
        public var connected = false
        /// Monotonic nanoseconds when the current session was first seen.
        public var sessionStart: UInt64 = 0
        /// The last reading of the current session, if any.
        public var lastReading: TrafficCounters?
        public var lastReadingAt: UInt64 = 0
        public var upRate: Double = 0
        public var downRate: Double = 0
        public var signalDBm: Int?
        public var sessions = 0
    }

    private let entries = Mutex<[SubscriberID: Entry]>([:])

    public init() {}

    /// A station associated (again): a new session starts with counters at zero.
    public func connected(_ id: SubscriberID, at now: UInt64) {
        entries.withLock { table in
            var entry = table[id] ?? Entry(id: id)
            entry.connected = true
            entry.sessionStart = now
            entry.lastReading = nil
            entry.lastReadingAt = now
            entry.upRate = 0
            entry.downRate = 0
            entry.sessions += 1
            table[id] = entry
        }
    }

    /// A station left; its final counters count if the source gave them.
    public func disconnected(_ id: SubscriberID, finalCounters: TrafficCounters?, at now: UInt64) {
        entries.withLock { table in
            guard var entry = table[id] else { return }
            if let finalCounters { Self.account(&entry, reading: finalCounters, at: now) }
            entry.connected = false
            entry.lastReading = nil
            entry.upRate = 0
            entry.downRate = 0
            table[id] = entry
        }
    }

    /// The source restarted: every session it had is over, and its counters start again.
    public func sourceReset(scheme: SubscriberID.Scheme) {
        entries.withLock { table in
            for id in table.keys where id.scheme == scheme {
                table[id]!.connected = false
                table[id]!.lastReading = nil
            }
        }
    }

    /// Applies one poll of a Wi-Fi source: every station it lists now.
    public func observe(_ stations: [StationInfo], at now: UInt64) {
        observe(stations.map { SourceReading(id: $0.subscriber, counters: $0.counters, connectedSeconds: $0.connectedSeconds, signalDBm: $0.signalDBm) },
                scheme: .mac, at: now)
    }

    /// Applies one poll of a source: every subscriber of `scheme` it has now, with cumulative counters.
    ///
    /// One listed but not known as connected started a session we did not see begin (the
    /// daemon started mid-session, or the event was lost); one known as connected but not
    /// listed has left without an event.
    public func observe(_ readings: [SourceReading], scheme: SubscriberID.Scheme, at now: UInt64) {
        entries.withLock { table in
            var listed = Set<SubscriberID>()
            for reading in readings where reading.id.scheme == scheme {
                let id = reading.id
                listed.insert(id)
                var entry = table[id] ?? Entry(id: id)
                if !entry.connected {
                    entry.connected = true
                    entry.sessions += 1
                    entry.lastReading = nil
                    let age = (reading.connectedSeconds ?? 0) * 1_000_000_000
                    entry.sessionStart = now > age ? now - age : 0
                }
                entry.signalDBm = reading.signalDBm
                if let counters = reading.counters { Self.account(&entry, reading: counters, at: now) }
                table[id] = entry
            }
            for (id, entry) in table where entry.connected && id.scheme == scheme && !listed.contains(id) {
                table[id]!.connected = false
                table[id]!.lastReading = nil
                table[id]!.upRate = 0
                table[id]!.downRate = 0
            }
        }
    }

    private static func account(_ entry: inout Entry, reading: TrafficCounters, at now: UInt64) {
        let delta = reading.delta(since: entry.lastReading ?? .zero(width: reading.width))
        entry.upBytes += delta.upBytes
        entry.downBytes += delta.downBytes
        let elapsed = Double(now &- entry.lastReadingAt) / 1e9
        if entry.lastReading != nil && elapsed > 0 {
            entry.upRate = Double(delta.upBytes) / elapsed
            entry.downRate = Double(delta.downBytes) / elapsed
        }
        entry.lastReading = reading
        entry.lastReadingAt = now
    }

    public var all: [Entry] { entries.withLock { Array($0.values) }.sorted { $0.id < $1.id } }

    public var connectedCount: Int { entries.withLock { $0.values.count(where: \.connected) } }
}

/// One subscriber as a poll of its source reports it.
public struct SourceReading: Sendable {
    public var id: SubscriberID
    public var counters: TrafficCounters?
    public var connectedSeconds: UInt64?
    public var signalDBm: Int?

    public init(id: SubscriberID, counters: TrafficCounters?, connectedSeconds: UInt64?, signalDBm: Int? = nil) {
        self.id = id
        self.counters = counters
        self.connectedSeconds = connectedSeconds
        self.signalDBm = signalDBm
    }
}
