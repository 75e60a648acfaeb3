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

    /// Applies one poll of a source: every station it lists now, with cumulative counters.
    ///
    /// A station listed but not known as connected started a session we did not see begin
    /// (the daemon started mid-session, or the event was lost); one known as connected but
    /// not listed has left without an event.
    public func observe(_ stations: [StationInfo], at now: UInt64) {
        entries.withLock { table in
            var listed = Set<SubscriberID>()
            for station in stations {
                let id = station.subscriber
                listed.insert(id)
                var entry = table[id] ?? Entry(id: id)
                if !entry.connected {
                    entry.connected = true
                    entry.sessions += 1
                    entry.lastReading = nil
                    let age = (station.connectedSeconds ?? 0) * 1_000_000_000
                    entry.sessionStart = now > age ? now - age : 0
                }
                entry.signalDBm = station.signalDBm
                if let counters = station.counters { Self.account(&entry, reading: counters, at: now) }
                table[id] = entry
            }
            for (id, entry) in table where entry.connected && id.scheme == .mac && !listed.contains(id) {
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
