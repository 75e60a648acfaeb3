import Posix

/// Where a config value came from, for `file:line: message` errors.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public var description: String { "\(file):\(line)" }
}

/// A config error, printed as `file:line: message` (chrony's and the compilers' form).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let location: SourceLocation?
    public let message: String
    /// The file named here could not be read at all (as opposed to read and found wrong).
    public let unreadableFile: String?

    public init(_ location: SourceLocation?, _ message: String) {
        self.location = location
        self.message = message
        unreadableFile = nil
    }

    init(unreadable path: String, reason: String) {
        location = nil
        message = "cannot read config \(path): \(reason)"
        unreadableFile = path
    }

    public var description: String {
        location.map { "\($0): \(message)" } ?? message
    }
}

/// One `key = value` line of an INI file, with its section.
public struct INIEntry: Sendable, Equatable {
    public let section: String
    public let key: String
    public let value: String
    public let location: SourceLocation
}

/// The INI dialect of `qlinkd.conf`: `[section]` headers, `key = value` lines,
/// `#` or `;` comments on their own line, blank lines ignored. Keys and sections
/// are case-sensitive; values are trimmed; a value may be quoted with `"` to keep
/// leading or trailing spaces.
public enum INIFile {
    public static func parse(_ text: String, file: String) throws(ConfigError) -> [INIEntry] {
        var entries: [INIEntry] = []
        var section: String?
        // "\r\n" is one Character in Swift, so split on both to read files written on Windows.
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let location = SourceLocation(file: file, line: index + 1)
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw ConfigError(location, "malformed section header '\(line)' (expected [name])")
                }
                section = String(line.dropFirst().dropLast()).trimmingWhitespace()
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError(location, "expected 'key = value', got '\(line)'")
            }
            let key = line[..<equals].trimmingWhitespace()
            var value = line[line.index(after: equals)...].trimmingWhitespace()
            guard !key.isEmpty else { throw ConfigError(location, "missing key before '='") }
            guard let section else { throw ConfigError(location, "'\(key)' is outside any [section]") }
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            entries.append(INIEntry(section: section, key: key, value: value, location: location))
        }
        return entries
    }

    /// Parses `path`, then every `path.d/*.conf` in name order: later values win, as in systemd.
    public static func load(_ path: String) throws(ConfigError) -> [INIEntry] {
        var entries = try parse(read(path), file: path)
        for dropIn in dropIns(of: path) {
            entries += try parse(read(dropIn), file: dropIn)
        }
        return entries
    }

    /// The drop-in files of `path`, sorted by name.
    public static func dropIns(of path: String) -> [String] {
        let directory = path + ".d"
        guard let names = try? FileSystem.listDirectory(directory) else { return [] }
        return names.filter { $0.hasSuffix(".conf") && !$0.hasPrefix(".") }.sorted().map { "\(directory)/\($0)" }
    }

    private static func read(_ path: String) throws(ConfigError) -> String {
        do {
            return String(decoding: try FileSystem.readFile(path), as: UTF8.self)
        } catch {
            throw ConfigError(unreadable: path, reason: "\(error.errno)")
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
