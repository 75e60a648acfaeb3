/// Bytes per time bucket from the journal's `usage` records, drawn as an SVG (for
/// `qlinkctl meter chart`): the day's tide at a glance.
///
/// A usage record carries the bytes since the session's previous record (one flush, a few
/// minutes at most) and is counted in the bucket of its `wall` time. Buckets are aligned
/// to multiples of their length since the epoch (UTC). A range that would need more than
/// `maxBuckets` buckets gets longer ones, so a journal spanning months still draws.
public struct UsageChart: Sendable {
    public struct Bucket: Sendable, Equatable {
        /// Wall-clock milliseconds at the bucket's start.
        public var start: Int64
        public var up: UInt64
        public var down: UInt64
    }

    public static let maxBuckets: Int64 = 720
    /// The bucket length asked for, in milliseconds.
    public let bucketMilliseconds: Int64
    /// The range drawn; nil: from the first record's bucket / to the last one's end.
    public let since: Int64?
    public let until: Int64?
    private var sums: [Int64: (up: UInt64, down: UInt64)] = [:]
    /// Usage records counted, and how many of them had a wall clock not yet known good.
    public private(set) var readings = 0
    public private(set) var untrustedReadings = 0

    public init(bucketMilliseconds: Int64, since: Int64? = nil, until: Int64? = nil) {
        self.bucketMilliseconds = max(1000, bucketMilliseconds)
        self.since = since
        self.until = until
    }

    /// Counts a `usage` record (anything else is ignored).
    public mutating func add(_ record: JournalRecord) {
        guard record.kind == .usage else { return }
        let index = JournalTime.floorDivide(record.wall, bucketMilliseconds)
        let sum = sums[index] ?? (0, 0)
        sums[index] = (sum.up &+ (record.up ?? 0), sum.down &+ (record.down ?? 0))
        readings += 1
        if !record.clockTrusted { untrustedReadings += 1 }
    }

    /// The buckets drawn, every one from the range's start to its end (empty ones too), and their length.
    public func buckets() -> (length: Int64, buckets: [Bucket]) {
        guard let from = since ?? sums.keys.min().map({ $0 * bucketMilliseconds }),
              let to = until ?? sums.keys.max().map({ ($0 + 1) * bucketMilliseconds }), to > from else {
            return (bucketMilliseconds, [])
        }
        var length = bucketMilliseconds
        if (to - from) / length > Self.maxBuckets {
            let wanted = (to - from + Self.maxBuckets - 1) / Self.maxBuckets
            length = Self.niceSpans.first { $0 >= wanted } ?? (wanted + 86_400_000 - 1) / 86_400_000 * 86_400_000
        }
        let first = JournalTime.floorDivide(from, length)
        let last = JournalTime.floorDivide(to - 1, length)
        var list = (first...last).map { Bucket(start: $0 * length, up: 0, down: 0) }
        for (index, sum) in sums {
            let slot = Int(JournalTime.floorDivide(index * bucketMilliseconds, length) - first)
            guard list.indices.contains(slot) else { continue }
            list[slot].up &+= sum.up
            list[slot].down &+= sum.down
        }
        return (length, list)
    }

    /// The chart as a standalone SVG document: down stacked under up, axes, time labels (UTC), a legend and `title`.
    public func svg(title: String) -> String {
        let (length, list) = buckets()
        let width = 960.0, height = 440.0
        let left = 96.0, right = width - 24, top = 72.0, bottom = height - 76
        var out = SVGText()
        out.open("svg", ["xmlns": "http://www.w3.org/2000/svg", "width": "960", "height": "440", "viewBox": "0 0 960 440",
                         "font-family": "sans-serif", "font-size": "12"])
        out.element("title", [:], text: title)
        out.element("rect", ["x": "0", "y": "0", "width": "960", "height": "440", "fill": "white"])
        out.element("text", ["x": "24", "y": "30", "font-size": "18", "font-weight": "bold"], text: title)
        let totalUp = list.reduce(0) { $0 &+ $1.up }, totalDown = list.reduce(0) { $0 &+ $1.down }
        var subtitle = "per \(Self.spanLabel(length)), UTC"
        if let first = list.first, let last = list.last {
            subtitle = "\(Self.minute(first.start)) to \(Self.minute(last.start + length)) UTC, per \(Self.spanLabel(length))"
                + " · up \(Self.bytes(totalUp)) · down \(Self.bytes(totalDown))"
        }
        if untrustedReadings > 0 { subtitle += " · \(untrustedReadings) of \(readings) readings with the clock not yet trusted" }
        out.element("text", ["x": "24", "y": "52", "fill": "#555555"], text: subtitle)

        let peak = list.map { $0.up &+ $0.down }.max() ?? 0
        let (step, ceiling) = Self.scale(peak)
        func y(_ value: UInt64) -> Double { bottom - Double(value) / Double(ceiling) * (bottom - top) }
        var tick: UInt64 = 0
        while tick <= ceiling {
            let at = Self.number(y(tick))
            out.element("line", ["x1": Self.number(left), "x2": Self.number(right), "y1": at, "y2": at,
                                 "stroke": tick == 0 ? "#000000" : "#dddddd", "stroke-width": "1"])
            out.element("text", ["x": Self.number(left - 8), "y": Self.number(y(tick) + 4), "text-anchor": "end"], text: Self.bytes(tick))
            tick += step
        }
        out.element("text", ["x": "0", "y": "0", "text-anchor": "middle",
                             "transform": "translate(22 \(Self.number((top + bottom) / 2))) rotate(-90)"],
                    text: "bytes per \(Self.spanLabel(length))")

        if let first = list.first, let last = list.last {
            let from = first.start, to = last.start + length
            func x(_ time: Int64) -> Double { left + Double(time - from) / Double(to - from) * (right - left) }
            var downEdge: [(Double, Double)] = [], totalEdge: [(Double, Double)] = []
            for bucket in list {
                let x0 = x(bucket.start), x1 = x(bucket.start + length)
                downEdge += [(x0, y(bucket.down)), (x1, y(bucket.down))]
                totalEdge += [(x0, y(bucket.down &+ bucket.up)), (x1, y(bucket.down &+ bucket.up))]
            }
            let base = [(left, bottom)] + downEdge + [(right, bottom)]
            out.element("path", ["d": Self.path(base), "fill": Self.downColour, "stroke": "none"])
            out.element("path", ["d": Self.path(totalEdge + downEdge.reversed()), "fill": Self.upColour, "stroke": "none"])
            let interval = Self.tickSpans.first { (to - from) / $0 <= 8 } ?? max(1, (to - from) / 8)
            var time = (JournalTime.floorDivide(from - 1, interval) + 1) * interval
            while time <= to {
                let at = Self.number(x(time))
                out.element("line", ["x1": at, "x2": at, "y1": Self.number(bottom), "y2": Self.number(bottom + 5), "stroke": "#000000"])
                out.element("text", ["x": at, "y": Self.number(bottom + 19), "text-anchor": "middle"],
                            text: Self.timeLabel(time, interval: interval, span: to - from))
                time += interval
            }
        } else {
            out.element("text", ["x": Self.number((left + right) / 2), "y": Self.number((top + bottom) / 2), "text-anchor": "middle",
                                 "fill": "#555555"], text: "no usage in this range")
        }
        out.element("line", ["x1": Self.number(left), "x2": Self.number(left), "y1": Self.number(top), "y2": Self.number(bottom),
                             "stroke": "#000000"])
        out.element("text", ["x": Self.number((left + right) / 2), "y": Self.number(bottom + 38), "text-anchor": "middle"], text: "time (UTC)")
        let legendY = height - 16
        out.element("rect", ["x": Self.number(left), "y": Self.number(legendY - 10), "width": "12", "height": "12", "fill": Self.downColour])
        out.element("text", ["x": Self.number(left + 18), "y": Self.number(legendY)], text: "down (to the subscriber)")
        out.element("rect", ["x": Self.number(left + 220), "y": Self.number(legendY - 10), "width": "12", "height": "12", "fill": Self.upColour])
        out.element("text", ["x": Self.number(left + 238), "y": Self.number(legendY)], text: "up (from the subscriber)")
        out.close("svg")
        return out.text
    }

    static let downColour = "#1f77b4"
    static let upColour = "#ff7f0e"
    private static let minuteMs: Int64 = 60_000, hourMs: Int64 = 3_600_000, dayMs: Int64 = 86_400_000
    /// Bucket lengths a too-long range is widened to.
    static let niceSpans: [Int64] = [minuteMs, 2 * minuteMs, 5 * minuteMs, 10 * minuteMs, 15 * minuteMs, 30 * minuteMs,
                                     hourMs, 2 * hourMs, 3 * hourMs, 6 * hourMs, 12 * hourMs, dayMs, 2 * dayMs, 7 * dayMs]
    /// Distances between time labels.
    static let tickSpans: [Int64] = niceSpans + [14 * dayMs, 28 * dayMs, 91 * dayMs, 182 * dayMs, 364 * dayMs]

    /// A tick step of 1, 2 or 5 × 10^k giving at most 5 steps up to a ceiling at or above `peak`.
    static func scale(_ peak: UInt64) -> (step: UInt64, ceiling: UInt64) {
        guard peak > 0 else { return (1000, 1000) }
        let raw = (peak + 4) / 5
        var power: UInt64 = 1
        while true {
            for factor: UInt64 in [1, 2, 5] where factor * power >= raw {
                let step = factor * power
                return (step, (peak + step - 1) / step * step)
            }
            power *= 10
        }
    }

    /// Decimal units, at most one decimal: `0 B`, `500 B`, `1.5 MB`, `2 GB`.
    static func bytes(_ count: UInt64) -> String {
        guard count >= 1000 else { return "\(count) B" }
        var divisor: UInt64 = 1000
        for unit in ["kB", "MB", "GB", "TB", "PB"] {
            if count / divisor < 1000 || unit == "PB" {
                let tenths = (count * 10 + divisor / 2) / divisor
                return tenths % 10 == 0 ? "\(tenths / 10) \(unit)" : "\(tenths / 10).\(tenths % 10) \(unit)"
            }
            divisor *= 1000
        }
        return "\(count) B"
    }

    /// `30 s`, `5 min`, `2 h`, `1 day`, `7 days`.
    static func spanLabel(_ ms: Int64) -> String {
        if ms % dayMs == 0 { return ms == dayMs ? "day" : "\(ms / dayMs) days" }
        if ms % hourMs == 0 { return ms == hourMs ? "hour" : "\(ms / hourMs) h" }
        if ms % minuteMs == 0 { return "\(ms / minuteMs) min" }
        return "\(ms / 1000) s"
    }

    static func minute(_ ms: Int64) -> String { String(JournalTime.readable(ms).dropLast(3)) }

    static func timeLabel(_ ms: Int64, interval: Int64, span: Int64) -> String {
        let text = JournalTime.readable(ms)
        if interval >= dayMs { return String(text.prefix(10)) }
        if span > dayMs { return String(text.dropFirst(5).dropLast(3)) }
        return String(text.dropFirst(11).dropLast(3))
    }

    static func path(_ points: [(Double, Double)]) -> String {
        points.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(number($0.element.0)) \(number($0.element.1))" }.joined(separator: " ") + " Z"
    }

    /// A coordinate with one decimal, never in exponent form.
    static func number(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }
}

/// Builds XML text: attributes in a fixed order, text and attribute values escaped.
struct SVGText {
    private(set) var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    private var depth = 0

    mutating func open(_ name: String, _ attributes: KeyValuePairs<String, String>) {
        text += indent + "<\(name)\(Self.attributes(attributes))>\n"
        depth += 1
    }

    mutating func close(_ name: String) {
        depth -= 1
        text += indent + "</\(name)>\n"
    }

    mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String>, text content: String? = nil) {
        if let content {
            text += indent + "<\(name)\(Self.attributes(attributes))>\(Self.escape(content))</\(name)>\n"
        } else {
            text += indent + "<\(name)\(Self.attributes(attributes))/>\n"
        }
    }

    private var indent: String { String(repeating: "  ", count: depth) }

    private static func attributes(_ attributes: KeyValuePairs<String, String>) -> String {
        attributes.map { " \($0.key)=\"\(escape($0.value))\"" }.joined()
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for char in text.unicodeScalars {
            switch char {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(char)
            default:
                // Control characters are not allowed in XML 1.0 at all.
                if char.value >= 0x20 { out.unicodeScalars.append(char) }
            }
        }
        return out
    }
}
