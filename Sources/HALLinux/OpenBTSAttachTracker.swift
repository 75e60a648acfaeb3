import HAL

/// Derives attaches and detaches from successive `gprs list` readings (OpenBTS keeps no
/// attach state), keeps each subscriber's counters cumulative for the whole attachment, and
/// applies the cell's policies (capacity, blocked subscribers). Pure: no I/O, no clock.
///
/// - A subscriber is attached while some MS record carries a GMM context of its IMSI in
///   state `GmmRegisteredNormal`; its bytes are those of every MS record of that IMSI.
/// - Counters are kept per MS record and added up as deltas, so a record that disappears
///   (a new TLLI, an idle MS record dropped) does not make the subscriber's total go
///   backwards; a record whose bytes go backwards (or a reused `MS#n` after an unnoticed
///   restart) counts as a new record. The totals are 64-bit and never wrap.
/// - OpenBTS lists a detached subscriber's records until they have been idle for
///   `GPRS.Timers.MS.Idle` (600 s), under a GMM context that is no longer registered: the
///   reading that first shows it so gives the session's final bytes. Those records stay
///   retired with their last reading, so an IMSI that attaches again while they are still
///   listed (under its new, registered context) never has their bytes counted twice.
/// - A record never seen before, listed under a context that is no longer registered, is a
///   whole session that began and ended between two readings (or before this tracker
///   started): it is reported as `.finalCounters` with the context's age as the session's
///   length, and retired. The meter decides whether it is new (after its startup grace) or
///   the end of a session it recovered from its journal.
/// - Once a deregistered subscriber's records are read, its GMM context is to be freed
///   (`free`): its records then stay listed without a context, so no later session of the
///   same IMSI, in this tracker or in one started after qlinkd restarts, can count them.
/// - A registered context younger than its session's (`age=` went back) means the
///   subscriber detached and attached again between two readings: the session ends with
///   its own records' bytes, and a new one begins with the rest.
/// - When more subscribers are attached than the capacity, the newest are refused: the ones
///   admitted last, and among those new in one reading the youngest GMM context (`age=`).
///   A refused or blocked subscriber still listed is detached again each reading, but
///   `.attachRefused` is reported once per episode.
struct OpenBTSAttachTracker: Sendable, Codable {
    struct Session: Sendable, Codable {
        /// Admission order: a higher number was admitted later.
        let admitted: UInt64
        /// The last reading of each MS record of the subscriber.
        var records: [String: TrafficCounters] = [:]
        var upBytes: UInt64 = 0
        var downBytes: UInt64 = 0
        var ipAddress: String?
        var ageSeconds: UInt64?

        var counters: TrafficCounters { TrafficCounters(upBytes: upBytes, downBytes: downBytes, width: .bits64) }
    }

    /// What one reading changed.
    struct Outcome: Equatable, Sendable {
        var events: [HALEvent] = []
        /// IMSIs to detach now (over capacity or blocked), in order.
        var detach: [String] = []
        /// Deregistered IMSIs whose records were read: their GMM contexts are to be freed.
        var free: [String] = []
        /// Every admitted subscriber after the reading.
        var subscribers: [AttachedSubscriber] = []
    }

    /// How wide OpenBTS's per-MS byte counters are (a 32-bit one may wrap).
    let width: CounterWidth
    private(set) var sessions: [String: Session] = [:]
    /// Refused subscribers still listed, with the reason they were given.
    private(set) var refused: [String: String] = [:]
    /// The last reading of each still-listed MS record whose session ended, by `MS#`.
    private(set) var retired: [String: TrafficCounters] = [:]
    private var admissions: UInt64 = 0

    init(width: CounterWidth) { self.width = width }

    /// Every admitted subscriber, by IMSI.
    var subscribers: [AttachedSubscriber] {
        sessions.keys.sorted().compactMap { imsi in
            guard let id = SubscriberID.imsi(imsi), let session = sessions[imsi] else { return nil }
            return AttachedSubscriber(id: id, ipAddress: session.ipAddress, attachedSeconds: session.ageSeconds, counters: session.counters)
        }
    }

    /// Applies one `gprs list` reading; `capacity` nil means no limit.
    mutating func observe(_ records: [OpenBTSMSRecord], capacity: Int?, blocked: Set<String>) -> Outcome {
        var byIMSI: [String: [OpenBTSMSRecord]] = [:]
        var registered: Set<String> = []
        var deregistered: Set<String> = []
        for record in records {
            guard let context = record.context else { continue }
            byIMSI[context.imsi, default: []].append(record)
            if context.isRegistered { registered.insert(context.imsi) }
            if context.isDeregistered { deregistered.insert(context.imsi) }
        }
        var outcome = Outcome()
        let listed = Set(records.map(\.id))
        retired = retired.filter { listed.contains($0.key) }

        // A registered context younger than its session's: detached and attached again since
        // the last reading. The session ends with its own records; the rest start a new one.
        for imsi in sessions.keys.sorted() where registered.contains(imsi) {
            let session = sessions[imsi]!
            let records = byIMSI[imsi] ?? []
            guard let was = session.ageSeconds, let age = Self.registeredAge(records), age + 1 < was else { continue }
            sessions[imsi] = updated(session, with: records.filter { session.records[$0.id] != nil })
            end(imsi, &outcome)
        }

        // Read every session's records first: a record still listed after its subscriber
        // left carries the last bytes it moved.
        for (imsi, session) in sessions { sessions[imsi] = updated(session, with: byIMSI[imsi] ?? []) }
        for imsi in sessions.keys.sorted() where !registered.contains(imsi) {
            end(imsi, &outcome)
        }
        refused = refused.filter { registered.contains($0.key) }
        for imsi in deregistered.subtracting(registered).sorted() where sessions[imsi] == nil {
            reportUnseen(imsi, byIMSI[imsi]!, &outcome)
            outcome.free.append(imsi)
        }

        for imsi in registered.sorted() where blocked.contains(imsi) {
            end(imsi, &outcome)
            refuse(imsi, reason: "blocked", &outcome)
        }
        if let capacity, sessions.count > capacity {
            let newest = sessions.sorted { $0.value.admitted > $1.value.admitted }.prefix(sessions.count - capacity).map(\.key)
            for imsi in newest.reversed() {
                end(imsi, &outcome)
                refuse(imsi, reason: Self.fullReason(capacity), &outcome)
            }
        }

        var candidates: [(imsi: String, age: UInt64)] = []
        for imsi in registered where sessions[imsi] == nil && !blocked.contains(imsi) {
            let ages = (byIMSI[imsi] ?? []).compactMap { $0.context?.ageSeconds }
            candidates.append((imsi, ages.max() ?? 0))
        }
        // Oldest first: the youngest contexts are the newest attaches, refused first.
        candidates.sort { a, b in a.age != b.age ? a.age > b.age : a.imsi < b.imsi }
        var attached: [HALEvent] = []
        for (imsi, _) in candidates {
            if let capacity, sessions.count >= capacity {
                refuse(imsi, reason: Self.fullReason(capacity), &outcome)
                continue
            }
            guard let id = SubscriberID.imsi(imsi) else { continue }
            refused[imsi] = nil
            admissions += 1
            sessions[imsi] = updated(Session(admitted: admissions), with: byIMSI[imsi] ?? [])
            attached.append(.subscriberAttached(id))
        }
        outcome.events += attached
        outcome.subscribers = subscribers
        return outcome
    }

    /// The stack restarted: every attachment ended with it. Returns the detach events (with
    /// the last counters read) and forgets every record and refusal.
    mutating func endAll() -> [HALEvent] {
        var outcome = Outcome()
        for imsi in sessions.keys.sorted() { end(imsi, &outcome) }
        refused = [:]
        retired = [:]
        return outcome.events
    }

    static func fullReason(_ capacity: Int) -> String { "cell full (capacity \(capacity))" }

    // MARK: - Helpers

    private mutating func end(_ imsi: String, _ outcome: inout Outcome) {
        guard let session = sessions.removeValue(forKey: imsi), let id = SubscriberID.imsi(imsi) else { return }
        retired.merge(session.records) { _, last in last }
        outcome.events.append(.subscriberDetached(id, finalCounters: session.counters))
    }

    /// The records of `imsi` (detached) that no session counted: a session seen only now it is over.
    private mutating func reportUnseen(_ imsi: String, _ records: [OpenBTSMSRecord], _ outcome: inout Outcome) {
        let unseen = records.filter { retired[$0.id] == nil }
        guard !unseen.isEmpty, let id = SubscriberID.imsi(imsi) else { return }
        var up: UInt64 = 0, down: UInt64 = 0
        for record in unseen {
            let reading = TrafficCounters(upBytes: record.upBytes, downBytes: record.downBytes, width: width)
            retired[record.id] = reading
            up &+= reading.upBytes
            down &+= reading.downBytes
        }
        let age = records.compactMap { $0.context?.ageSeconds }.max()
        outcome.events.append(.finalCounters(id, TrafficCounters(upBytes: up, downBytes: down, width: .bits64), sessionSeconds: age))
    }

    private mutating func refuse(_ imsi: String, reason: String, _ outcome: inout Outcome) {
        if !outcome.detach.contains(imsi) { outcome.detach.append(imsi) }
        guard refused[imsi] != reason, let id = SubscriberID.imsi(imsi) else { return }
        refused[imsi] = reason
        outcome.events.append(.attachRefused(id, reason: reason))
    }

    /// `session` after a reading of its records; a retired record it lists counts on from its
    /// last reading.
    private mutating func updated(_ session: Session, with records: [OpenBTSMSRecord]) -> Session {
        var session = session
        var current: [String: TrafficCounters] = [:]
        for record in records {
            current[record.id] = TrafficCounters(upBytes: record.upBytes, downBytes: record.downBytes, width: width)
        }
        for (id, reading) in current {
            let delta = (session.records[id] ?? retired.removeValue(forKey: id)).map { reading.delta(since: $0) }
                ?? TrafficDelta(firstReading: reading)
            session.upBytes &+= delta.upBytes
            session.downBytes &+= delta.downBytes
        }
        session.records = current
        let registered = records.compactMap(\.context).filter(\.isRegistered)
        if let ip = registered.lazy.compactMap(\.ipAddress).first { session.ipAddress = ip }
        if let age = Self.registeredAge(records) { session.ageSeconds = age }
        return session
    }

    /// How long ago the registered GMM context listed with `records` was made.
    private static func registeredAge(_ records: [OpenBTSMSRecord]) -> UInt64? {
        records.compactMap(\.context).filter(\.isRegistered).compactMap(\.ageSeconds).max()
    }
}
