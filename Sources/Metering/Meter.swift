import Crypto
import HAL
import Logging
import Posix

/// Turns counter readings and session events into journal records.
///
/// Deltas are taken against the last durable reading, so a crash loses nothing of a
/// subscriber who is still connected: after a restart the source's cumulative counters
/// are compared with what the journal last recorded. Records are written in group commits
/// every `flushInterval` (for the flash), and at once when a session closes: a closed
/// session's final reading is durable before `sessionEnded` returns.
///
/// Not thread-safe: one owner calls it (the daemon's metering queue).
public final class Meter {
    public struct Configuration: Sendable {
        public var flushInterval: Duration
        /// Polls in a row that must miss a session before it is taken as gone.
        public var missesBeforeClose = 2
        public var counterWidths: [SubscriberID.Scheme: CounterWidth]

        public init(flushInterval: Duration, counterWidths: [SubscriberID.Scheme: CounterWidth]) {
            self.flushInterval = flushInterval
            self.counterWidths = counterWidths
        }
    }

    /// The journal's health, for status.
    public enum JournalState: Sendable, Equatable {
        case ok
        /// Appends fail (e.g. the disk is full): readings are kept in memory and retried.
        case stopped(String)
    }

    /// How long the last reading of a closed session is kept to recognise its association.
    static let rememberClosed: UInt64 = 600 * 1_000_000_000
    /// `connected_time` counts whole seconds, so an association time derived from it is late
    /// by up to a second.
    static let connectedTimeSlack: UInt64 = 1_000_000_000
    /// How long after start a source may still be repeating reports sent before it (RADIUS
    /// retransmits for about 10 s): the limit for subscribers the active segment never names.
    static let startupGrace: UInt64 = 20 * 1_000_000_000
    private let startedAt: UInt64

    private let configuration: Configuration
    private let writer: JournalWriter
    private let logger: Logger
    private let clockTrusted: () -> Bool
    private var sessions: [SubscriberID: MeterSession] = [:]
    /// Sessions whose disconnect was announced, waiting a moment for their final counters.
    private var ending: [SubscriberID: MeterSession] = [:]
    private var closing: [(session: MeterSession, reason: String)] = []
    private var notes: [String] = []
    private var nextSession: UInt64
    private var lastFlush: UInt64
    /// The last reading of subscribers whose session closed, to recognise the same
    /// association if it shows up again (a transient absence from a poll).
    private var lastClosed: [SubscriberID: (counters: TrafficCounters, at: UInt64, closedAt: UInt64)] = [:]
    /// What the journal held before this start: whether a session known only from its final
    /// counters may be one it recorded already.
    private enum EarlierJournal {
        /// No journal yet: nothing can be repeated.
        case none
        /// Same boot: each subscriber's last reading, and the active segment's start for the
        /// subscribers it never names (monotonic ns).
        case sameBoot(segmentStart: UInt64, lastReadings: [SubscriberID: UInt64])
        /// Another boot: its monotonic times say nothing now.
        case otherBoot
    }
    private let earlierJournal: EarlierJournal
    public private(set) var journalState = JournalState.ok

    public init(configuration: Configuration, writer: JournalWriter, recovered: RecoveredJournal, sameBoot: Bool,
                now: UInt64, clockTrusted: @escaping () -> Bool, logger: Logger) {
        self.configuration = configuration
        self.writer = writer
        self.logger = logger
        self.clockTrusted = clockTrusted
        nextSession = recovered.nextSession
        lastFlush = now
        startedAt = now
        notes = recovered.notes
        if recovered.activeSegment == nil {
            earlierJournal = .none
        } else if sameBoot {
            var readings: [SubscriberID: UInt64] = [:]
            for (subscriber, at) in recovered.lastReadingOf { if let id = SubscriberID(subscriber) { readings[id] = at } }
            earlierJournal = .sameBoot(segmentStart: recovered.segmentStart ?? 0, lastReadings: readings)
        } else {
            earlierJournal = .otherBoot
        }
        for open in recovered.openSessions {
            guard let id = SubscriberID(open.subscriber) else { continue }
            let width = configuration.counterWidths[id.scheme] ?? .bits64
            let baseline = TrafficCounters(upBytes: open.upCounter, downBytes: open.downCounter, width: width)
            var session = MeterSession(subscriber: id, id: open.session, baseline: baseline, at: open.readAt,
                                       upTotal: open.upTotal, downTotal: open.downTotal, openIsDurable: true, unconfirmed: true)
            if !sameBoot {
                // Monotonic time restarted with the machine: no session can have gone on.
                session.durableAt = 0
                closing.append((session, "left while qlinkd was down (the board restarted); bytes after its last durable reading are not known"))
                continue
            }
            sessions[id] = session
        }
    }

    // MARK: - Events

    /// A subscriber associated (or reassociated): a new session starts, counters from zero.
    ///
    /// A session recovered from the journal and not yet seen again is not closed by this: a
    /// backend announces what it finds when it (re)connects, and the next poll decides,
    /// from the association time and the counters, whether it is the same session.
    public func sessionStarted(_ id: SubscriberID, at now: UInt64) {
        if sessions[id]?.unconfirmed == true { return }
        if let old = sessions.removeValue(forKey: id) { closing.append((old, "reassociated")) }
        var session = MeterSession(subscriber: id, id: takeSessionID(), baseline: .zero(width: width(id)), at: now)
        session.associatedAt = now
        sessions[id] = session
    }

    /// A subscriber's disconnect was announced, and its source will send the final counters
    /// separately: the session stays open (and is not taken as missing from polls) until
    /// `sessionEnded` comes. A new session of the same subscriber may start meanwhile.
    public func sessionEnding(_ id: SubscriberID, at now: UInt64) {
        guard var session = sessions.removeValue(forKey: id) else { return }
        session.endingAt = now
        if let earlier = ending.updateValue(session, forKey: id) { closing.append((earlier, "disconnected")) }
    }

    /// A subscriber left. With `finalCounters` every byte to the end counts; without, the
    /// last poll's reading is the last word. The close is durable when this returns
    /// (unless the journal is stopped: then it is kept and retried).
    ///
    /// `sessionSeconds` (how long ago the session the final counters are about began) keeps
    /// a late or repeated report (a RADIUS retransmission reaching a restarted daemon) from
    /// ending a later session of the same subscriber; counters that do not carry on from the
    /// open session's are another session's too.
    public func sessionEnded(_ id: SubscriberID, finalCounters: TrafficCounters?, sessionSeconds: UInt64? = nil, at now: UInt64) {
        if let seconds = sessionSeconds, let candidate = ending[id] ?? sessions[id] {
            let began = now &- min(now, seconds * 1_000_000_000)
            if let associated = candidate.associatedAt, associated > began + Self.connectedTimeSlack * 2 {
                logger.notice("\(id): final counters of an earlier session (began \(seconds) s ago) ignored; session \(candidate.id) began later")
                return
            }
            if candidate.unconfirmed, began > candidate.durableAt + Self.connectedTimeSlack * 2 {
                // A later session than the one recovered from the journal: that one ended while qlinkd was down.
                sessions[id] = nil
                leftWhileDown(candidate)
            }
        }
        var session: MeterSession
        if let finalCounters, let open = ending[id] ?? sessions[id], !open.isContinued(by: finalCounters) {
            // Not the open session's last word: the Stop of one that ended just before it began.
            logger.notice("\(id): final counters (up \(finalCounters.upBytes), down \(finalCounters.downBytes)) do not carry on from session \(open.id)'s last reading; taken for an earlier session")
            guard let earlier = unseenSession(id, finalCounters: finalCounters, sessionSeconds: sessionSeconds, at: now) else { return }
            session = earlier
        } else {
            guard let found = ending.removeValue(forKey: id) ?? sessions.removeValue(forKey: id)
                    ?? unseenSession(id, finalCounters: finalCounters, sessionSeconds: sessionSeconds, at: now) else { return }
            session = found
        }
        if let finalCounters { session.readFinal(finalCounters, at: now) }
        closing.append((session, finalCounters == nil ? "disconnected" : "disconnected (final counters)"))
        flush(at: now)
    }

    /// The source restarted: its sessions are over (their counters start again from zero).
    public func sourceRestarted(_ scheme: SubscriberID.Scheme, at now: UInt64) {
        for (id, session) in sessions where id.scheme == scheme {
            sessions[id] = nil
            closing.append((session, "source restarted"))
        }
        for (id, session) in ending where id.scheme == scheme {
            ending[id] = nil
            closing.append((session, "disconnected; source restarted before its final counters"))
        }
        flush(at: now)
    }

    /// Whether the meter still holds an open session of `id` (live or waiting for its end).
    public func hasSession(_ id: SubscriberID) -> Bool { sessions[id] != nil || ending[id] != nil }

    /// One complete poll of a source: every subscriber it had when the poll was `taken`
    /// (monotonic ns; it may be processed later than events that happened after it).
    public func observe(_ readings: [MeterReading], scheme: SubscriberID.Scheme, taken: UInt64? = nil, at now: UInt64) {
        let taken = taken ?? now
        var listed = Set<SubscriberID>()
        for reading in readings where reading.subscriber.scheme == scheme {
            listed.insert(reading.subscriber)
            // A poll taken before this session began, or before the last one ended, is about the old one.
            if let current = sessions[reading.subscriber], current.openedAt > taken { continue }
            if sessions[reading.subscriber] == nil && isStale(reading.subscriber, taken: taken) { continue }
            if var session = sessions[reading.subscriber] {
                if session.unconfirmed && !continues(session, reading, at: now) {
                    sessions[reading.subscriber] = nil
                    leftWhileDown(session)
                } else {
                    session.unconfirmed = false
                    session.misses = 0
                    if let seconds = reading.connectedSeconds { session.noteAssociation(now &- min(now, seconds * 1_000_000_000)) }
                    if let counters = reading.counters { session.read(counters, at: now) }
                    sessions[reading.subscriber] = session
                    continue
                }
            }
            var session = MeterSession(subscriber: reading.subscriber, id: takeSessionID(), baseline: baseline(for: reading, at: now), at: now)
            if let seconds = reading.connectedSeconds { session.noteAssociation(now &- min(now, seconds * 1_000_000_000)) }
            if let counters = reading.counters { session.read(counters, at: now) }
            sessions[reading.subscriber] = session
        }
        for (id, var session) in sessions where id.scheme == scheme && !listed.contains(id) && session.openedAt <= taken {
            session.misses += 1
            if session.unconfirmed || session.misses >= configuration.missesBeforeClose {
                sessions[id] = nil
                if session.unconfirmed { leftWhileDown(session) } else { closing.append((session, "gone from the source without a disconnect event")) }
            } else {
                sessions[id] = session
            }
        }
        if !closing.isEmpty || journalState != .ok || now &- lastFlush >= UInt64(configuration.flushInterval.nanoseconds) {
            flush(at: now)
        }
    }

    /// Writes everything read so far (called on a timer, on close, and at shutdown).
    public func flush(at now: UInt64) {
        var drafts: [JournalDraft] = notes.map { JournalDraft(.note, reason: $0) }
        for (session, _) in closing { drafts += session.drafts() }
        for (session, reason) in closing {
            var close = JournalDraft(.close, subscriber: session.subscriber.description, session: session.id, reason: reason)
            close.upTotal = session.upTotal + session.pendingUp
            close.downTotal = session.downTotal + session.pendingDown
            drafts.append(close)
        }
        let ids = sessions.keys.sorted()
        for id in ids where sessions[id]!.hasPending && !sessions[id]!.unconfirmed { drafts += sessions[id]!.drafts() }
        let endingIDs = ending.keys.sorted()
        for id in endingIDs where ending[id]!.hasPending { drafts += ending[id]!.drafts() }
        guard !drafts.isEmpty else {
            lastFlush = now
            return
        }
        let stamp = JournalStamp(wall: SystemClock.wallMilliseconds(), mono: now, clockTrusted: clockTrusted())
        do {
            try writer.commit(drafts, at: stamp, nextSession: nextSession) { openSessionsForHeader() }
        } catch {
            if journalState == .ok { logger.critical("metering journal stopped, readings kept in memory: \(error)") }
            journalState = .stopped("\(error)")
            return
        }
        if case .stopped(let reason) = journalState {
            logger.notice("metering journal resumed after: \(reason)")
            journalState = .ok
        }
        for (session, _) in closing { lastClosed[session.subscriber] = (session.latest, session.latestAt, now) }
        lastClosed = lastClosed.filter { now &- $0.value.at < Self.rememberClosed }
        closing.removeAll()
        notes.removeAll()
        for id in ids where !sessions[id]!.unconfirmed { sessions[id]!.committed() }
        for id in endingIDs { ending[id]!.committed() }
        lastFlush = now
    }

    // MARK: - State

    /// Sessions open now, with their bytes including what is not yet durable.
    public var openSessions: [(subscriber: SubscriberID, session: UInt64, up: UInt64, down: UInt64)] {
        sessions.values.filter { !$0.unconfirmed }.sorted { $0.subscriber < $1.subscriber }
            .map { ($0.subscriber, $0.id, $0.upTotal + $0.pendingUp, $0.downTotal + $0.pendingDown) }
    }

    public var bytesAppended: Int { writer.bytesAppended }
    public var fsyncs: Int { writer.fsyncs }

    // MARK: - Helpers

    /// A session recovered from the journal ended while qlinkd was down: closed, and said in
    /// a note (its bytes after the last durable reading are lost).
    private func leftWhileDown(_ session: MeterSession) {
        closing.append((session, "left while qlinkd was down; bytes after its last durable reading are not known"))
        notes.append("\(session.subscriber) session \(session.id): ended while qlinkd was down; its bytes after the last durable reading are lost")
    }

    /// A whole session the meter never saw (it began and ended while the source's events
    /// were out of reach: between two polls, while qlinkd was down, just after a hostapd
    /// restart), known only from its final counters: those are its totals since association,
    /// so it is journaled from zero. Only if it began after the journal's last reading of
    /// the subscriber (else it may be one already journaled, repeated by a retransmission),
    /// or, for a subscriber the active segment does not name, after that segment began.
    /// After a reboot (monotonic times not comparable) not in the first `startupGrace`.
    private func unseenSession(_ id: SubscriberID, finalCounters: TrafficCounters?, sessionSeconds: UInt64?, at now: UInt64) -> MeterSession? {
        guard let finalCounters, let seconds = sessionSeconds else { return nil }
        let associated = now &- min(now, seconds * 1_000_000_000)
        var journaledBefore: UInt64?
        if case .sameBoot(let segmentStart, let readings) = earlierJournal { journaledBefore = readings[id] ?? segmentStart }
        if let lastReading = [lastClosed[id]?.at, journaledBefore].compactMap({ $0 }).max() {
            guard associated > lastReading + Self.connectedTimeSlack * 2 else {
                logger.debug("\(id): final counters of a session already journaled (it began \(seconds) s ago); not counted again")
                return nil
            }
        } else if case .otherBoot = earlierJournal, now &- startedAt <= Self.startupGrace {
            logger.notice("\(id): final counters of a session not seen, so soon after start that they may repeat one already journaled; not counted")
            return nil
        }
        logger.notice("\(id): a whole session (\(seconds) s) known only from its final counters; journaled from them")
        // Counted from zero in the report's own width: its gigawords are real wraps.
        var session = MeterSession(subscriber: id, id: takeSessionID(), baseline: .zero(width: finalCounters.width), at: now)
        session.associatedAt = associated
        return session
    }

    /// A poll taken before the subscriber's last session ended (or began to end) must not
    /// start a new one: its bytes belong to the session already closed.
    private func isStale(_ id: SubscriberID, taken: UInt64) -> Bool {
        if let endingAt = ending[id]?.endingAt, taken <= endingAt { return true }
        if let closedAt = lastClosed[id]?.closedAt, taken <= closedAt { return true }
        return closing.contains { $0.session.subscriber == id }
    }

    private func takeSessionID() -> UInt64 {
        defer { nextSession += 1 }
        return nextSession
    }

    private func width(_ id: SubscriberID) -> CounterWidth { configuration.counterWidths[id.scheme] ?? .bits64 }

    /// Whether a session recovered from the journal is still the same association now.
    private func continues(_ session: MeterSession, _ reading: MeterReading, at now: UInt64) -> Bool {
        if let seconds = reading.connectedSeconds {
            let associated = now &- min(now, seconds * 1_000_000_000)
            if associated > session.durableAt + Self.connectedTimeSlack { return false }
        }
        guard let counters = reading.counters else { return true }
        return !counters.delta(since: session.durable).reset
    }

    /// A session found by a poll starts at zero, unless it is the very association whose
    /// session was closed a moment ago (a station missing from a poll or two).
    private func baseline(for reading: MeterReading, at now: UInt64) -> TrafficCounters {
        let zero = TrafficCounters.zero(width: width(reading.subscriber))
        guard let last = lastClosed[reading.subscriber], let counters = reading.counters, let seconds = reading.connectedSeconds else { return zero }
        let associated = now &- min(now, seconds * 1_000_000_000)
        guard associated <= last.at + Self.connectedTimeSlack, !counters.delta(since: last.counters).reset else { return zero }
        return last.counters
    }

    private func openSessionsForHeader() -> [JournalRecord.OpenSession] {
        (Array(sessions.values) + Array(ending.values)).filter { $0.openIsDurable }.sorted { $0.id < $1.id }.map(\.asOpenSession)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
