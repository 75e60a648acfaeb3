/// How many bits a counter source keeps before it wraps to zero.
public enum CounterWidth: Int, Sendable, Codable, CaseIterable {
    case bits32 = 32
    case bits64 = 64

    /// The largest value the source can report.
    public var maximum: UInt64 { self == .bits32 ? UInt64(UInt32.max) : UInt64.max }
}

/// Cumulative byte and packet counters of one subscriber, as its source reports them.
///
/// `up` is what the subscriber sent (the AP's rx), `down` what it received (the AP's tx).
public struct TrafficCounters: Hashable, Sendable, Codable {
    public var upBytes: UInt64
    public var downBytes: UInt64
    public var upPackets: UInt64
    public var downPackets: UInt64
    public var width: CounterWidth

    public init(upBytes: UInt64, downBytes: UInt64, upPackets: UInt64 = 0, downPackets: UInt64 = 0, width: CounterWidth) {
        self.upBytes = upBytes
        self.downBytes = downBytes
        self.upPackets = upPackets
        self.downPackets = downPackets
        self.width = width
    }

    public static func zero(width: CounterWidth) -> TrafficCounters {
        TrafficCounters(upBytes: 0, downBytes: 0, width: width)
    }

    /// What moved since `earlier`, a reading of the same session on the same source.
    ///
    /// A counter that went backwards either wrapped or was reset by its source. It wrapped
    /// only if the source is 32-bit, the counter was in the upper half of its range, and
    /// less than half the range moved; and only if no packet counter went backwards from
    /// the lower half (packets are far from wrapping when bytes do). Otherwise the source
    /// was reset, and the new reading is all that moved since.
    public func delta(since earlier: TrafficCounters) -> TrafficDelta {
        let counters = [(earlier.upBytes, upBytes), (earlier.downBytes, downBytes),
                        (earlier.upPackets, upPackets), (earlier.downPackets, downPackets)]
        let wentBack = counters.contains { $0.1 < $0.0 }
        let reset = wentBack && counters.contains { !Self.canWrap(from: $0.0, to: $0.1, width: width) }
        if reset {
            return TrafficDelta(upBytes: upBytes, downBytes: downBytes, upPackets: upPackets, downPackets: downPackets, reset: true)
        }
        return TrafficDelta(
            upBytes: Self.advance(from: earlier.upBytes, to: upBytes, width: width),
            downBytes: Self.advance(from: earlier.downBytes, to: downBytes, width: width),
            upPackets: Self.advance(from: earlier.upPackets, to: upPackets, width: width),
            downPackets: Self.advance(from: earlier.downPackets, to: downPackets, width: width),
            wrapped: wentBack
        )
    }

    /// Whether going from `earlier` to `later` is explained by counting on (with at most one wrap).
    static func canWrap(from earlier: UInt64, to later: UInt64, width: CounterWidth) -> Bool {
        if later >= earlier { return true }
        let half = width.maximum / 2
        return width == .bits32 && earlier > half && (width.maximum - earlier) + later < half
    }

    static func advance(from earlier: UInt64, to later: UInt64, width: CounterWidth) -> UInt64 {
        later >= earlier ? later - earlier : (width.maximum - earlier) + later + 1
    }
}

/// The traffic between two readings of one session.
public struct TrafficDelta: Hashable, Sendable, Codable {
    public var upBytes: UInt64
    public var downBytes: UInt64
    public var upPackets: UInt64
    public var downPackets: UInt64
    /// A 32-bit counter wrapped between the readings.
    public var wrapped: Bool
    /// A counter went backwards on a 64-bit source: the source was reset.
    public var reset: Bool

    public init(upBytes: UInt64, downBytes: UInt64, upPackets: UInt64 = 0, downPackets: UInt64 = 0, wrapped: Bool = false, reset: Bool = false) {
        self.upBytes = upBytes
        self.downBytes = downBytes
        self.upPackets = upPackets
        self.downPackets = downPackets
        self.wrapped = wrapped
        self.reset = reset
    }

    /// A first reading of a new session: everything since the counters started at zero.
    public init(firstReading counters: TrafficCounters) {
        self.init(upBytes: counters.upBytes, downBytes: counters.downBytes, upPackets: counters.upPackets, downPackets: counters.downPackets)
    }

    public var isZero: Bool { upBytes == 0 && downBytes == 0 && upPackets == 0 && downPackets == 0 }
}
