import Posix

/// Finds `qlinkd`'s control socket from its config file.
///
/// `qlinkctl` reads only the two keys it needs, with the dialect of `qlinkd.conf`
/// (`[section]`, `key = value`, `#`/`;` comment lines, optional `"…"` quotes, every
/// section's keys case-sensitive) and the same drop-ins (`FILE.d/*.conf` in name order,
/// later wins). Keys it does not know are ignored: checking them is `qlinkd --check-config`'s job.
public enum DaemonConfig {
    /// The config read when neither `--socket` nor `--config` is given, if it exists.
    public static let defaultPath = "/etc/qlink/qlinkd.conf"
    /// The socket used when there is no config at all (`[paths] runtime` default + `qlinkd.sock`).
    public static let defaultSocketPath = "/run/qlink/qlinkd.sock"

    /// A config that cannot be used.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// The file (or a drop-in) could not be read.
        case unreadable(path: String, reason: String)
        /// A line that is not a section, an assignment or a comment, or a bad value: `file:line: message`.
        case invalid(path: String, line: Int, message: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read config \(path): \(reason)"
            case .invalid(let path, let line, let message): "\(path):\(line): \(message)"
            }
        }
    }

    /// The control socket named by the config at `config` and its drop-ins:
    /// `[control] socket`, else `[paths] runtime` + `/qlinkd.sock`, else `defaultSocketPath`.
    ///
    /// Once `qlinkctl` links the daemon's loader this is `ConfigLoader.load(path:).controlSocket`.
    public static func controlSocketPath(config: String) throws(Failure) -> String {
        var values: [String: Setting] = [:]
        for file in [config] + dropIns(of: config) {
            for setting in try parse(read(file), file: file) where wanted.contains(setting.key) {
                values[setting.key] = setting
            }
        }
        if let socket = values["control.socket"], !socket.value.isEmpty {
            return try absolutePath(socket)
        }
        if let runtime = values["paths.runtime"] {
            return try absolutePath(runtime) + "/qlinkd.sock"
        }
        return defaultSocketPath
    }

    /// One `key = value` line, its key qualified by its section (`control.socket`).
    struct Setting: Equatable {
        var key: String
        var value: String
        var file: String
        var line: Int
    }

    private static let wanted: Set<String> = ["control.socket", "paths.runtime"]

    /// The settings of one file, in order.
    static func parse(_ text: String, file: String) throws(Failure) -> [Setting] {
        var settings: [Setting] = []
        var section: String?
        for (index, raw) in lines(of: text).enumerated() {
            let line = trimmed(raw)
            let number = index + 1
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw .invalid(path: file, line: number, message: "malformed section header '\(line)' (expected [name])")
                }
                section = trimmed(line.dropFirst().dropLast())
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw .invalid(path: file, line: number, message: "expected 'key = value', got '\(line)'")
            }
            let key = trimmed(line[..<equals])
            var value = trimmed(line[line.index(after: equals)...])
            guard !key.isEmpty else { throw .invalid(path: file, line: number, message: "missing key before '='") }
            guard let section else { throw .invalid(path: file, line: number, message: "'\(key)' is outside any [section]") }
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            settings.append(Setting(key: "\(section).\(key)", value: value, file: file, line: number))
        }
        return settings
    }

    /// `FILE.d/*.conf`, hidden files skipped, sorted by name; none when the directory is missing.
    static func dropIns(of config: String) -> [String] {
        let directory = config + ".d"
        guard let names = try? FileSystem.listDirectory(directory) else { return [] }
        return names.filter { $0.hasSuffix(".conf") && !$0.hasPrefix(".") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { "\(directory)/\($0)" }
    }

    private static func read(_ path: String) throws(Failure) -> String {
        do {
            return String(decoding: try FileSystem.readFile(path), as: UTF8.self)
        } catch {
            throw .unreadable(path: path, reason: error.errno.description)
        }
    }

    /// `qlinkd` takes only absolute paths; a trailing slash is dropped.
    private static func absolutePath(_ setting: Setting) throws(Failure) -> String {
        guard setting.value.hasPrefix("/") else {
            throw .invalid(path: setting.file, line: setting.line, message: "\(setting.key): expected an absolute path, got '\(setting.value)'")
        }
        var path = setting.value
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// Lines split at LF or CRLF (in Swift "\r\n" is one Character, so splitting at "\n" alone misses it).
    static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    }

    private static func trimmed(_ text: some StringProtocol) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }
}
