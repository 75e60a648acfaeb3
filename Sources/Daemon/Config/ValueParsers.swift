/// Parsers for config values; each error says what was expected.
extension ConfigSchema {
    static func nonEmpty(_ v: String) throws(ConfigError) -> String {
        guard !v.isEmpty else { throw ConfigError(nil, "must not be empty") }
        return v
    }

    static func absolutePath(_ v: String) throws(ConfigError) -> String {
        guard v.hasPrefix("/") else { throw ConfigError(nil, "expected an absolute path, got '\(v)'") }
        return v.count > 1 && v.hasSuffix("/") ? String(v.dropLast()) : v
    }

    static func boolean(_ v: String) throws(ConfigError) -> Bool {
        switch v.lowercased() {
        case "yes", "true", "on", "1": return true
        case "no", "false", "off", "0": return false
        default: throw ConfigError(nil, "expected yes or no, got '\(v)'")
        }
    }

    static func integer(_ v: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let n = Int(v), range.contains(n) else {
            throw ConfigError(nil, "expected a whole number from \(range.lowerBound) to \(range.upperBound), got '\(v)'")
        }
        return n
    }

    static func oneOf<T: RawRepresentable<String>>(_ v: String, _ cases: [T]) throws(ConfigError) -> T {
        guard let value = T(rawValue: v) else {
            throw ConfigError(nil, "expected one of \(cases.map(\.rawValue).joined(separator: ", ")), got '\(v)'")
        }
        return value
    }

    /// `4096`, `64K`, `8M`, `1G`.
    static func byteSize(_ v: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let scales: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(v)
        var scale = 1
        if let last = v.last, let s = scales[Character(last.uppercased())] {
            scale = s
            digits = v.dropLast()
        }
        guard let n = Int(digits), n >= 0, n <= Int.max / scale, range.contains(n * scale) else {
            throw ConfigError(nil, "expected a size like 4096, 64K or 8M from \(range.lowerBound) to \(range.upperBound) bytes, got '\(v)'")
        }
        return n * scale
    }

    /// `500ms`, `5s`, `2m`, `1h`; a bare number is seconds.
    static func duration(_ v: String, in range: ClosedRange<Duration>) throws(ConfigError) -> Duration {
        let units: [(String, Duration)] = [("ms", .milliseconds(1)), ("s", .seconds(1)), ("m", .seconds(60)), ("h", .seconds(3600))]
        var number = Substring(v)
        var unit = Duration.seconds(1)
        for (suffix, scale) in units where v.hasSuffix(suffix) {
            number = v.dropLast(suffix.count)
            unit = scale
            break
        }
        guard let n = Double(number.trimmingWhitespace()), n.isFinite, n >= 0 else {
            throw ConfigError(nil, "expected a duration like 500ms, 5s, 2m or 1h, got '\(v)'")
        }
        let value = unit * n
        guard range.contains(value) else {
            throw ConfigError(nil, "'\(v)' is outside \(range.lowerBound) ... \(range.upperBound)")
        }
        return value
    }
}
