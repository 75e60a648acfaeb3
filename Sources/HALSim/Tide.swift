#if canImport(Glibc)
import Glibc
#endif

/// The daily tide: how busy the cell is at each time of day (1 = the evening peak), a
/// periodic piecewise-linear curve through a few knots. It scales both how often
/// subscribers arrive and how fast their traffic flows.
///
/// Times are seconds on the simulated clock counted from midnight of day 0.
public struct Tide: Sendable, Equatable {
    public static let day: Double = 86_400

    /// (seconds after midnight, level) pairs as given, sorted by time.
    public let knots: [(time: Double, level: Double)]
    /// The same curve closed over [0, day]: a point at 0 and one at `day`.
    private let points: [(time: Double, level: Double)]
    /// ∫ level from 0 to `points[i].time`.
    private let prefix: [Double]

    /// A busy evening, a dead night, a moderate day.
    public static let standard = Tide(knots: [
        (0, 0.25), (3 * 3600, 0.05), (6 * 3600, 0.08), (9 * 3600, 0.40), (13 * 3600, 0.55),
        (17 * 3600, 0.65), (20 * 3600, 1.0), (22 * 3600, 0.85),
    ])!

    /// Nil when there are no knots, a time is outside one day or repeated, or a level is not positive.
    public init?(knots: [(time: Double, level: Double)]) {
        let sorted = knots.sorted { $0.time < $1.time }
        guard !sorted.isEmpty, sorted.allSatisfy({ $0.time >= 0 && $0.time < Self.day && $0.level > 0 && $0.level.isFinite }) else { return nil }
        for i in 1..<max(1, sorted.count) where sorted[i].time == sorted[i - 1].time { return nil }
        self.knots = sorted
        // The value at midnight lies on the segment from the last knot to the first (wrapping).
        let first = sorted[0], last = sorted[sorted.count - 1]
        let gap = first.time + Self.day - last.time
        let atMidnight = gap == 0 ? first.level : last.level + (first.level - last.level) * (Self.day - last.time) / gap
        var points = [(time: 0.0, level: atMidnight)]
        points += sorted.filter { $0.time > 0 }
        points.append((Self.day, atMidnight))
        var prefix = [0.0]
        for i in 1..<points.count {
            let width = points[i].time - points[i - 1].time
            prefix.append(prefix[i - 1] + width * (points[i].level + points[i - 1].level) / 2)
        }
        self.points = points
        self.prefix = prefix
    }

    /// ∫ level over one whole day.
    public var dailyIntegral: Double { prefix[prefix.count - 1] }

    /// The level at simulated time `t`.
    public func level(at t: Double) -> Double {
        let x = timeOfDay(t)
        let i = segment(containing: x)
        let a = points[i], b = points[i + 1]
        return a.level + (b.level - a.level) * (x - a.time) / (b.time - a.time)
    }

    /// ∫ level from 0 to `t` (strictly increasing in `t`).
    public func cumulative(_ t: Double) -> Double {
        let days = (t / Self.day).rounded(.down)
        let x = t - days * Self.day
        let i = segment(containing: x)
        let a = points[i]
        let width = x - a.time
        let levelAtX = level(at: x)
        return days * dailyIntegral + prefix[i] + width * (a.level + levelAtX) / 2
    }

    /// The time `t` at which `cumulative(t) == target` (the inverse of `cumulative`).
    public func time(atCumulative target: Double) -> Double {
        let days = (target / dailyIntegral).rounded(.down)
        var rest = target - days * dailyIntegral
        var i = 0
        while i < points.count - 2 && prefix[i + 1] <= rest { i += 1 }
        rest -= prefix[i]
        let a = points[i], b = points[i + 1]
        let slope = (b.level - a.level) / (b.time - a.time)
        // Solve a.level·d + slope·d²/2 = rest for d ≥ 0.
        let d: Double
        if abs(slope) < 1e-15 {
            d = rest / a.level
        } else {
            let discriminant = max(0, a.level * a.level + 2 * slope * rest)
            d = (-a.level + sqrt(discriminant)) / slope
        }
        return days * Self.day + a.time + min(max(0, d), b.time - a.time)
    }

    private func timeOfDay(_ t: Double) -> Double {
        let x = t - (t / Self.day).rounded(.down) * Self.day
        return min(max(0, x), Self.day)
    }

    private func segment(containing x: Double) -> Int {
        var i = 0
        while i < points.count - 2 && points[i + 1].time <= x { i += 1 }
        return i
    }

    public static func == (a: Tide, b: Tide) -> Bool {
        a.knots.count == b.knots.count && zip(a.knots, b.knots).allSatisfy { $0.time == $1.time && $0.level == $1.level }
    }
}
