import HAL

/// One open session as the meter keeps it: what is durable in the journal, and what has
/// been read from the source since.
struct MeterSession {
    let subscriber: SubscriberID
    let id: UInt64
    /// Totals of the session as the journal has them.
    var upTotal: UInt64
    var downTotal: UInt64
    /// The source's counters at the last durable reading, and when (monotonic ns).
    var durable: TrafficCounters
    var durableAt: UInt64
    /// Bytes read since the durable reading, accumulated poll by poll (so a 32-bit wrap is
    /// judged over one poll, never over a whole flush interval).
    var pendingUp: UInt64 = 0
    var pendingDown: UInt64 = 0
    /// The last reading, and when.
    var latest: TrafficCounters
    var latestAt: UInt64
    /// The `open` record is in the journal.
    var openIsDurable: Bool
    /// Recovered from the journal at start and not yet seen again at its source.
    var unconfirmed: Bool
    /// Consecutive polls that did not list it.
    var misses = 0
    /// When the meter learned of it (monotonic ns): a poll taken before then says nothing about it.
    let openedAt: UInt64
    /// When its end was announced, while it waits for its final counters.
    var endingAt: UInt64?
    /// When the subscriber associated, as best known (monotonic ns): the event's time, or
    /// what a reading's connected time says.
    var associatedAt: UInt64?

    init(subscriber: SubscriberID, id: UInt64, baseline: TrafficCounters, at now: UInt64, upTotal: UInt64 = 0,
         downTotal: UInt64 = 0, openIsDurable: Bool = false, unconfirmed: Bool = false) {
        self.subscriber = subscriber
        self.id = id
        self.upTotal = upTotal
        self.downTotal = downTotal
        durable = baseline
        durableAt = now
        latest = baseline
        latestAt = now
        self.openIsDurable = openIsDurable
        self.unconfirmed = unconfirmed
        openedAt = now
    }

    /// Keeps the earliest association time seen (connected times only round down).
    mutating func noteAssociation(_ at: UInt64) {
        associatedAt = min(associatedAt ?? at, at)
    }

    /// Takes a new reading of the same session.
    mutating func read(_ counters: TrafficCounters, at now: UInt64) {
        let delta = counters.delta(since: latest)
        pendingUp += delta.upBytes
        pendingDown += delta.downBytes
        latest = counters
        latestAt = now
    }

    /// Takes the source's final counters, which may be wider than the polls (RADIUS adds
    /// gigawords to 32-bit driver counters). When they are, and the session counted from
    /// zero without a reset (its totals agree with its counters), the difference from the
    /// totals is exact however often the counters wrapped since the last reading (a burst
    /// of gigabytes between two polls, or while qlinkd was down). Otherwise they are read
    /// like a poll, in the session's width.
    mutating func readFinal(_ final: TrafficCounters, at now: UInt64) {
        let countedUp = upTotal + pendingUp, countedDown = downTotal + pendingDown
        guard countsFromZero(widerThan: final), final.upBytes >= countedUp, final.downBytes >= countedDown else {
            read(narrowed(final), at: now)
            return
        }
        pendingUp += final.upBytes - countedUp
        pendingDown += final.downBytes - countedDown
        latest = narrowed(final)
        latestAt = now
    }

    /// Whether `final` can be this session's last word: it carries on from the totals (when
    /// wider) or from the last reading (a wrap at most). Counters that went back belong to
    /// another session (a Stop of one that ended just before this one began).
    func isContinued(by final: TrafficCounters) -> Bool {
        if countsFromZero(widerThan: final) { return final.upBytes >= upTotal + pendingUp && final.downBytes >= downTotal + pendingDown }
        return !narrowed(final).delta(since: latest).reset
    }

    /// `final` is wider than the polls, and the session counted from zero without a reset
    /// (its totals agree with its counters), so the two can be compared whole.
    private func countsFromZero(widerThan final: TrafficCounters) -> Bool {
        let mask = latest.width.maximum
        return final.width.maximum > mask && (upTotal + pendingUp) & mask == latest.upBytes
            && (downTotal + pendingDown) & mask == latest.downBytes
    }

    /// `final` in the session's width. Packet counts of 0 mean "not reported": the last
    /// poll's are kept, which say nothing either way.
    private func narrowed(_ final: TrafficCounters) -> TrafficCounters {
        let mask = latest.width.maximum
        let packetsKnown = final.upPackets != 0 || final.downPackets != 0
        return TrafficCounters(upBytes: final.upBytes & mask, downBytes: final.downBytes & mask,
                               upPackets: packetsKnown ? final.upPackets & mask : latest.upPackets,
                               downPackets: packetsKnown ? final.downPackets & mask : latest.downPackets,
                               width: latest.width)
    }

    var hasPending: Bool { pendingUp > 0 || pendingDown > 0 || latest != durable || !openIsDurable }

    /// The records that make everything read so far durable.
    func drafts() -> [JournalDraft] {
        var drafts: [JournalDraft] = []
        if !openIsDurable {
            var open = JournalDraft(.open, subscriber: subscriber.description, session: id)
            open.upCounter = durable.upBytes
            open.downCounter = durable.downBytes
            drafts.append(open)
        }
        if pendingUp > 0 || pendingDown > 0 || latest != durable {
            var usage = JournalDraft(.usage, subscriber: subscriber.description, session: id)
            usage.up = pendingUp
            usage.down = pendingDown
            usage.upTotal = upTotal + pendingUp
            usage.downTotal = downTotal + pendingDown
            usage.upCounter = latest.upBytes
            usage.downCounter = latest.downBytes
            drafts.append(usage)
        }
        return drafts
    }

    /// After those records are durable.
    mutating func committed() {
        upTotal += pendingUp
        downTotal += pendingDown
        pendingUp = 0
        pendingDown = 0
        durable = latest
        durableAt = latestAt
        openIsDurable = true
    }

    var asOpenSession: JournalRecord.OpenSession {
        .init(subscriber: subscriber.description, session: id, upTotal: upTotal, downTotal: downTotal,
              upCounter: durable.upBytes, downCounter: durable.downBytes, readAt: durableAt)
    }
}

/// One reading of a subscriber from a poll of its source.
public struct MeterReading: Sendable {
    public var subscriber: SubscriberID
    /// Cumulative since association; nil if the source does not report counters.
    public var counters: TrafficCounters?
    /// Seconds since association (hostapd's `connected_time`), to tell a session that went on
    /// while the daemon was down from a new one.
    public var connectedSeconds: UInt64?

    public init(subscriber: SubscriberID, counters: TrafficCounters?, connectedSeconds: UInt64?) {
        self.subscriber = subscriber
        self.counters = counters
        self.connectedSeconds = connectedSeconds
    }
}
