import HAL
import Posix

/// One whole record of the journal, where it sits, and its line exactly as written.
public struct JournalEntry: Sendable {
    public let position: JournalPosition
    public let record: JournalRecord
    /// The line as written (without its newline): what `--json` and `export --format jsonl` print.
    public let line: String
}

/// A line that cannot be read as a record: reported, never skipped silently.
public struct JournalDamage: Sendable, Equatable, CustomStringConvertible {
    public let position: JournalPosition
    /// One past the last whole record before it, when there is one.
    public let expectedSeq: UInt64?
    public let problem: String
    /// The newest segment's last line has no newline: a write cut short by a crash, which
    /// qlinkd cuts back on start. Nothing that was ever durable is missing.
    public let isTornTail: Bool

    public var description: String {
        "\(position): \(expectedSeq.map { "seq \($0)?: " } ?? "")\(problem)"
    }
}

/// Which records a query keeps. Every condition given must hold.
public struct JournalFilter: Sendable, Equatable {
    /// A canonical subscriber id (`mac:aa:bb:…`, `imsi:…`): its records, and the notes that
    /// name it (they begin with its id).
    public var subscriber: String?
    /// Wall-clock milliseconds: `since` inclusive, `until` exclusive.
    public var since: Int64?
    public var until: Int64?
    /// nil: every kind.
    public var kinds: Set<JournalRecord.Kind>?

    public init(subscriber: String? = nil, since: Int64? = nil, until: Int64? = nil, kinds: Set<JournalRecord.Kind>? = nil) {
        self.subscriber = subscriber
        self.since = since
        self.until = until
        self.kinds = kinds
    }

    public func matches(_ record: JournalRecord) -> Bool {
        if let kinds, !kinds.contains(record.kind) { return false }
        if let since, record.wall < since { return false }
        if let until, record.wall >= until { return false }
        if let subscriber {
            if record.subscriber == subscriber { return true }
            return record.kind == .note && record.reason?.hasPrefix(subscriber + " ") == true
        }
        return true
    }

    /// A subscriber as the journal writes it: `mac:aa:bb:cc:dd:ee:ff` (either case, the
    /// `mac:` optional) or `imsi:001010123456789` (the `imsi:` optional); nil if it is neither.
    public static func subscriberID(_ text: String) -> String? {
        if let id = SubscriberID(text) { return id.description }
        if let mac = MACAddress(text) { return SubscriberID.mac(mac).description }
        return SubscriberID.imsi(text)?.description
    }

    /// `usage,open` or `all` as a set of kinds; nil if a name is not a kind.
    public static func kinds(_ text: String) -> Set<JournalRecord.Kind>? {
        if text == "all" { return Set(JournalRecord.Kind.allCases) }
        var kinds = Set<JournalRecord.Kind>()
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let kind = JournalRecord.Kind(rawValue: String(name)) else { return nil }
            kinds.insert(kind)
        }
        return kinds
    }
}

/// Reads the journal's records in order, straight from its files (qlinkd may be down).
///
/// Each line's own hash is checked as it is read; a line that fails is handed to `damage`
/// and reading goes on. The chain between records and the checkpoint signatures are
/// `JournalVerifier`'s business.
public struct JournalQuery: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Calls `body` with every whole record that `filter` keeps, oldest first, and `damage`
    /// with every line that is not a whole record (whatever the filter).
    public func forEach(_ filter: JournalFilter = JournalFilter(), damage: (JournalDamage) throws -> Void,
                        _ body: (JournalEntry) throws -> Void) throws {
        let segments = try JournalFiles.segments(in: directory)
        var lastSeq: UInt64?
        for (index, path) in segments.enumerated() {
            let name = String(path.split(separator: "/").last ?? "")
            let lines = JournalLines(try FileSystem.readRegularFile(path, limit: JournalFiles.maximumSegmentBytes))
            for (number, line) in lines.complete.enumerated() {
                let position = JournalPosition(segment: name, line: number + 1)
                let record: JournalRecord
                do { record = try JournalRecord(line: line) } catch {
                    try damage(JournalDamage(position: position, expectedSeq: lastSeq.map { $0 + 1 }, problem: "\(error)", isTornTail: false))
                    continue
                }
                lastSeq = record.seq
                guard filter.matches(record) else { continue }
                try body(JournalEntry(position: position, record: record, line: String(decoding: line, as: UTF8.self)))
            }
            if let torn = lines.tornTail {
                let last = index == segments.count - 1
                let problem = last ? "torn record of \(torn.bytes.count) bytes (a crash during a write; qlinkd cuts it on start)"
                                   : "torn record of \(torn.bytes.count) bytes inside the journal (not at its end)"
                try damage(JournalDamage(position: JournalPosition(segment: name, line: lines.complete.count + 1),
                                         expectedSeq: lastSeq.map { $0 + 1 }, problem: problem, isTornTail: last))
            }
        }
    }

    /// Everything `forEach` finds, collected.
    public func read(_ filter: JournalFilter = JournalFilter()) throws -> (entries: [JournalEntry], damage: [JournalDamage]) {
        var entries: [JournalEntry] = []
        var damage: [JournalDamage] = []
        try forEach(filter, damage: { damage.append($0) }) { entries.append($0) }
        return (entries, damage)
    }
}

/// One subscriber's usage over the records read.
public struct SubscriberUsage: Sendable, Equatable {
    public var subscriber: String
    /// Sums of the `usage` records' `up` (from the subscriber) and `down` (to it).
    public var upBytes: UInt64 = 0
    public var downBytes: UInt64 = 0
    /// Distinct session ids among its `open`, `usage` and `close` records (every session
    /// begins with an `open`, so over the whole journal this is the number of opens).
    public var sessions: Int { sessionIDs.count }
    var sessionIDs: Set<UInt64> = []

    public init(subscriber: String, upBytes: UInt64 = 0, downBytes: UInt64 = 0) {
        self.subscriber = subscriber
        self.upBytes = upBytes
        self.downBytes = downBytes
    }
}

/// Per-subscriber totals, and what the journal says about bytes that could not be counted.
public struct UsageSummary: Sendable {
    private var usage: [String: SubscriberUsage] = [:]
    /// Notes about lost bytes (`seq N: …`), in journal order.
    public private(set) var lostBytes: [String] = []
    private var notedSessions: Set<String> = []

    public init() {}

    /// Sorted by subscriber id.
    public var subscribers: [SubscriberUsage] { usage.values.sorted { $0.subscriber < $1.subscriber } }
    public var upBytes: UInt64 { usage.values.reduce(0) { $0 &+ $1.upBytes } }
    public var downBytes: UInt64 { usage.values.reduce(0) { $0 &+ $1.downBytes } }
    public var sessions: Int { usage.values.reduce(0) { $0 + $1.sessions } }

    public mutating func add(_ record: JournalRecord) {
        switch record.kind {
        case .open, .usage, .close:
            guard let subscriber = record.subscriber else { return }
            var entry = usage[subscriber] ?? SubscriberUsage(subscriber: subscriber)
            if let session = record.session { entry.sessionIDs.insert(session) }
            if record.kind == .usage {
                entry.upBytes &+= record.up ?? 0
                entry.downBytes &+= record.down ?? 0
            }
            usage[subscriber] = entry
            if record.kind == .close, let reason = record.reason, reason.contains("not known"), let session = record.session,
               !notedSessions.contains("\(subscriber) session \(session)") {
                lostBytes.append("seq \(record.seq): \(subscriber) session \(session) closed: \(reason)")
            }
        case .note:
            guard let reason = record.reason, reason.contains("lost") else { return }
            lostBytes.append("seq \(record.seq): \(reason)")
            // "mac:… session 7: ended while qlinkd was down; …": its close says the same.
            if let marker = reason.firstRange(of: " session ") {
                let digits = reason[marker.upperBound...].prefix { $0.isASCII && $0.isNumber }
                if !digits.isEmpty { notedSessions.insert(String(reason[..<digits.endIndex])) }
            }
        case .header, .checkpoint:
            return
        }
    }
}

/// Wall-clock times as `qlinkctl meter` reads and prints them: always UTC.
public enum JournalTime {
    /// Milliseconds since the epoch from:
    /// - ISO 8601 `2026-11-21T06:00:00Z` (`T` or a space; seconds, a fraction and the zone
    ///   optional: `Z`, `+02:00`, `+0200`, `+02`; none means UTC);
    /// - a date `2026-11-21`: its midnight UTC, or with `endOfDay` the next midnight (so an
    ///   `--until` date includes that whole day);
    /// - relative to `now`: `-2h`, `-30m`, `-1h30m`, `-45s`, `-7d`, `-2w`; or `now`.
    ///
    /// nil when the text is none of these.
    public static func parse(_ text: String, now: Int64, endOfDay: Bool = false) -> Int64? {
        if text == "now" { return now }
        if text.hasPrefix("-") { return relative(text.dropFirst()).map { now - $0 } }
        let chars = Array(text.utf8)
        guard chars.count >= 10, let year = number(chars, 0, 4), chars[4] == UInt8(ascii: "-"), let month = number(chars, 5, 2),
              chars[7] == UInt8(ascii: "-"), let day = number(chars, 8, 2),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        let midnight = daysFromCivil(year: year, month: month, day: day) * 86_400_000
        if chars.count == 10 { return endOfDay ? midnight + 86_400_000 : midnight }
        guard chars.count >= 16, [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(chars[10]),
              let hour = number(chars, 11, 2), chars[13] == UInt8(ascii: ":"), let minute = number(chars, 14, 2),
              hour < 24, minute < 60 else { return nil }
        var ms = midnight + (hour * 3600 + minute * 60) * 1000
        var i = 16
        if i < chars.count, chars[i] == UInt8(ascii: ":") {
            guard let second = number(chars, i + 1, 2), second < 60 else { return nil }
            ms += second * 1000
            i += 3
            if i < chars.count, chars[i] == UInt8(ascii: ".") || chars[i] == UInt8(ascii: ",") {
                let digits = chars[(i + 1)...].prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
                guard (1...9).contains(digits.count) else { return nil }
                let three = Array(digits.prefix(3)) + Array(repeating: UInt8(ascii: "0"), count: max(0, 3 - digits.count))
                ms += number(three, 0, 3)!
                i += 1 + digits.count
            }
        }
        guard i < chars.count else { return ms }
        let zone = Array(chars[i...])
        if zone == [UInt8(ascii: "Z")] || zone == [UInt8(ascii: "z")] { return ms }
        guard zone[0] == UInt8(ascii: "+") || zone[0] == UInt8(ascii: "-"), let zoneHours = number(zone, 1, 2), zoneHours < 24 else { return nil }
        var zoneMinutes: Int64 = 0
        switch zone.count {
        case 3: break
        case 5: guard let m = number(zone, 3, 2) else { return nil }; zoneMinutes = m
        case 6: guard zone[3] == UInt8(ascii: ":"), let m = number(zone, 4, 2) else { return nil }; zoneMinutes = m
        default: return nil
        }
        guard zoneMinutes < 60 else { return nil }
        let offset = (zoneHours * 60 + zoneMinutes) * 60_000
        return zone[0] == UInt8(ascii: "+") ? ms - offset : ms + offset
    }

    /// A span such as `2h`, `30m`, `1h30m`, `45s`, `7d`, `2w` in milliseconds; nil when malformed or zero.
    public static func relative(_ text: some StringProtocol) -> Int64? {
        var total: Int64 = 0, value: Int64 = 0, digits = 0
        for char in text {
            if let digit = char.wholeNumberValue, char.isASCII {
                guard digits < 12 else { return nil }
                value = value * 10 + Int64(digit)
                digits += 1
                continue
            }
            let unit: Int64
            switch char {
            case "s": unit = 1000
            case "m": unit = 60_000
            case "h": unit = 3_600_000
            case "d": unit = 86_400_000
            case "w": unit = 7 * 86_400_000
            default: return nil
            }
            guard digits > 0 else { return nil }
            total += value * unit
            value = 0
            digits = 0
        }
        guard digits == 0, total > 0 else { return nil }
        return total
    }

    /// `2026-11-21T06:00:00.250Z`.
    public static func iso(_ milliseconds: Int64) -> String {
        let (date, time, ms) = parts(milliseconds)
        return "\(date)T\(time).\(pad(ms, 3))Z"
    }

    /// `2026-11-21 06:00:00`, for people.
    public static func readable(_ milliseconds: Int64) -> String {
        let (date, time, _) = parts(milliseconds)
        return "\(date) \(time)"
    }

    /// The calendar date and time of day of `milliseconds`: (year, month, day, seconds of the day).
    public static func civil(_ milliseconds: Int64) -> (year: Int64, month: Int64, day: Int64, second: Int64) {
        let seconds = floorDivide(milliseconds, 1000)
        var z = floorDivide(seconds, 86_400) + 719_468
        let secondOfDay = seconds - floorDivide(seconds, 86_400) * 86_400
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        z -= era * 146_097
        let yoe = (z - z / 1460 + z / 36_524 - z / 146_096) / 365
        let doy = z - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day, secondOfDay)
    }

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        return era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
    }

    private static func parts(_ milliseconds: Int64) -> (date: String, time: String, ms: Int64) {
        let c = civil(milliseconds)
        let time = "\(pad(c.second / 3600, 2)):\(pad(c.second / 60 % 60, 2)):\(pad(c.second % 60, 2))"
        return ("\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))", time, milliseconds - floorDivide(milliseconds, 1000) * 1000)
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func number(_ chars: [UInt8], _ start: Int, _ count: Int) -> Int64? {
        guard start >= 0, start + count <= chars.count else { return nil }
        var value: Int64 = 0
        for byte in chars[start..<(start + count)] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
