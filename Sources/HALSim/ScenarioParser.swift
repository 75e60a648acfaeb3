/// A scenario file that cannot be used, naming the file and line.
public struct ScenarioError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let message: String

    public var description: String { "\(file):\(line): \(message)" }
}

extension Scenario {
    /// Parses scenario text; `file` names it in errors (`file:line: message`).
    ///
    /// The format: `#` comments, `[world]` and `[faults]` sections, `key = value` lines.
    /// See hal-sim/README.md for every key.
    public static func parse(_ text: String, file: String, name: String) throws(ScenarioError) -> Scenario {
        var scenario = Scenario(name: name)
        var section: Substring?
        var seen: Set<Substring> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            func fail(_ message: String) -> ScenarioError { ScenarioError(file: file, line: line, message: message) }
            let content = rawLine.prefix { $0 != "#" }.trimmingWhitespace()
            if content.isEmpty { continue }
            if content.hasPrefix("[") {
                guard content.hasSuffix("]") else { throw fail("unterminated section header '\(content)'") }
                let header = content.dropFirst().dropLast().trimmingWhitespace()
                guard header == "world" || header == "faults" else { throw fail("unknown section [\(header)] (expected [world] or [faults])") }
                section = header
                continue
            }
            guard let equals = content.firstIndex(of: "=") else { throw fail("expected 'key = value', got '\(content)'") }
            let key = content[..<equals].trimmingWhitespace()
            let value = content[content.index(after: equals)...].trimmingWhitespace()
            guard let section else { throw fail("'\(key)' outside a section (start with [world])") }
            guard !value.isEmpty else { throw fail("'\(key)' has no value") }
            if section == "faults" {
                scenario.faults.append(try parseFault(key: key, value: value, fail: fail))
                continue
            }
            guard seen.insert(key).inserted else { throw fail("'\(key)' given twice") }
            switch key {
            case "subscribers":
                guard let n = Int(value), (1...4096).contains(n) else { throw fail("subscribers must be a whole number from 1 to 4096, got '\(value)'") }
                scenario.subscribers = n
            case "ues":
                guard let n = Int(value), (0...4096).contains(n) else { throw fail("ues must be a whole number from 0 to 4096, got '\(value)'") }
                scenario.ues = n
            case "gps":
                let numbers = value.split(separator: ",").map { Double($0.trimmingWhitespace()) }
                guard (2...3).contains(numbers.count), let lat = numbers[0], let lon = numbers[1], abs(lat) <= 90, abs(lon) <= 180,
                      numbers.count == 2 || numbers[2].map({ abs($0) < 10_000 }) == true else {
                    throw fail("gps must be 'LATITUDE, LONGITUDE[, ALTITUDE]' in degrees and metres, got '\(value)'")
                }
                scenario.position = GPSPosition(latitude: lat, longitude: lon, altitude: numbers.count == 3 ? numbers[2]! : GPSPosition.standard.altitude)
            case "start":
                guard let t = parseTimeOfDay(value) else { throw fail("start must be a time of day HH:MM[:SS], got '\(value)'") }
                scenario.startOfDay = t
            case "session":
                guard let d = parseDuration(value), d >= 1 else { throw fail("session must be a duration of at least 1s (e.g. 45m), got '\(value)'") }
                scenario.meanSession = d
            case "arrivals":
                guard let r = parseRate(value), r > 0 else { throw fail("arrivals must be a positive rate such as 30/h, got '\(value)'") }
                scenario.arrivalsPerHour = r
            case "traffic":
                guard let s = Double(value), s >= 0, s <= 100 else { throw fail("traffic must be a scale from 0 to 100, got '\(value)'") }
                scenario.trafficScale = s
            case "reconnect":
                guard let d = parseDuration(value) else { throw fail("reconnect must be a duration (e.g. 30s), got '\(value)'") }
                scenario.reconnectDelay = d
            case "tide":
                scenario.tide = try parseTide(value, fail: fail)
            default:
                throw fail("unknown key '\(key)' in [world]")
            }
        }
        return scenario
    }

    private static func parseFault(key: Substring, value: Substring, fail: (String) -> ScenarioError) throws(ScenarioError) -> ScheduledFault {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard key == "at" || key == "every" else { throw fail("unknown key '\(key)' in [faults] (expected 'at' or 'every')") }
        guard let when = words.first.flatMap(parseDuration) else { throw fail("'\(key)' needs a duration first (e.g. '\(key) = 2m hostapd-restart'), got '\(value)'") }
        guard let action = FaultAction(words: Array(words.dropFirst())) else {
            throw fail("unknown fault '\(words.dropFirst().joined(separator: " "))' (expected hostapd-restart [SECONDS], counter-reset [all|random|ID], "
                + "wrap32 [all|random|ID] [SECONDS], radio-restart [SECONDS], thermal-spike [SECONDS], frontend-unplug, frontend-plug, gps-lost, gps-fix)")
        }
        if key == "every" {
            guard when >= 1 else { throw fail("'every' needs an interval of at least 1s") }
            return ScheduledFault(at: when, every: when, action: action)
        }
        return ScheduledFault(at: when, action: action)
    }

    private static func parseTide(_ value: Substring, fail: (String) -> ScenarioError) throws(ScenarioError) -> Tide {
        var knots: [(time: Double, level: Double)] = []
        for item in value.split(separator: ",") {
            let words = item.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 2, let time = parseTimeOfDay(words[0]), let level = Double(words[1]) else {
                throw fail("tide points are 'HH:MM LEVEL' separated by commas, got '\(item.trimmingWhitespace())'")
            }
            knots.append((time, level))
        }
        guard let tide = Tide(knots: knots) else { throw fail("tide needs distinct times within one day and levels above 0") }
        return tide
    }
}

/// Parses `90s`, `45m`, `2h`, `1h30m`, `250ms` (a bare number is not accepted: units are required).
public func parseDuration(_ text: some StringProtocol) -> Double? {
    var total = 0.0
    var rest = Substring(text)
    guard !rest.isEmpty else { return nil }
    while !rest.isEmpty {
        let number = rest.prefix { $0.isNumber || $0 == "." }
        guard !number.isEmpty, let value = Double(number) else { return nil }
        rest = rest.dropFirst(number.count)
        let unit = rest.prefix { $0.isLetter }
        rest = rest.dropFirst(unit.count)
        switch unit {
        case "ms": total += value / 1000
        case "s": total += value
        case "m": total += value * 60
        case "h": total += value * 3600
        case "d": total += value * 86_400
        default: return nil
        }
    }
    return total
}

/// Parses `HH:MM` or `HH:MM:SS` into seconds after midnight.
public func parseTimeOfDay(_ text: some StringProtocol) -> Double? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard (2...3).contains(parts.count), parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isNumber) }) else { return nil }
    let numbers = parts.compactMap { Int($0) }
    guard numbers[0] < 24, numbers[1] < 60, (numbers.count == 2 || numbers[2] < 60) else { return nil }
    return Double(numbers[0] * 3600 + numbers[1] * 60 + (numbers.count == 3 ? numbers[2] : 0))
}

/// Parses `30/h`, `2/m`, `0.5/s` into events per hour.
func parseRate(_ text: some StringProtocol) -> Double? {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let count = Double(parts[0]), count.isFinite else { return nil }
    switch parts[1] {
    case "h": return count
    case "m": return count * 60
    case "s": return count * 3600
    case "d": return count / 24
    default: return nil
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        let s = Substring(self)
        let start = s.firstIndex { !$0.isWhitespace } ?? s.endIndex
        let end = s.lastIndex { !$0.isWhitespace }.map { s.index(after: $0) } ?? start
        return s[start..<Swift.max(start, end)]
    }
}
