/// A command line that cannot be run: printed with the usage, exit status 64.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// The command whose usage to show, when known.
    public let command: String?

    public init(_ message: String, command: String? = nil) {
        self.message = message
        self.command = command
    }

    public var description: String { message }
}

/// An option: `--name VALUE`, `--name=VALUE`, or a flag `--name`.
public struct OptionSpec: Sendable, Equatable {
    public var name: String
    /// The placeholder in usage text (`PATH`, `S`); nil for a flag.
    public var valueName: String?
    public var summary: String

    public init(_ name: String, _ valueName: String? = nil, _ summary: String) {
        self.name = name
        self.valueName = valueName
        self.summary = summary
    }

    /// `--name VALUE` or `--name`.
    public var synopsis: String { valueName.map { "--\(name) \($0)" } ?? "--\(name)" }
}

/// A parsed `qlinkctl` command line. Global options may stand anywhere; a command's own
/// options and arguments only after its name.
public struct Arguments: Sendable, Equatable {
    public var command: String?
    /// The subcommand picked under `command` (`show` of `meter show`).
    public var subcommand: String?
    public var socket: String?
    public var config: String?
    public var timeout: Duration = .seconds(5)
    public var json = false
    public var help = false
    /// The command's own options by name; flags map to "".
    public var options: [String: String] = [:]
    public var positionals: [String] = []

    public init() {}

    /// The options every command takes, in usage order (`-h` is `--help`).
    public static let globalOptions: [OptionSpec] = [
        OptionSpec("socket", "PATH", "qlinkd's control socket (default: from the config, else \(DaemonConfig.defaultSocketPath))"),
        OptionSpec("config", "FILE", "find the socket in this qlinkd config and its FILE.d/*.conf drop-ins"),
        OptionSpec("timeout", "S", "give up on a silent qlinkd after S seconds (default 5)"),
        OptionSpec("json", nil, "print JSON (one object or array a line, sorted keys) instead of text"),
        OptionSpec("help", nil, "show this text, or a command's usage"),
    ]

    /// Parses `arguments` (without the program name) against `commands`.
    public static func parse(_ arguments: [String], commands: [Command]) throws(UsageError) -> Arguments {
        var parsed = Arguments()
        var current: Command?
        var index = 0
        func value(for name: String, inline: String?) throws(UsageError) -> String {
            if let inline { return inline }
            index += 1
            guard index < arguments.count else { throw UsageError("option --\(name) needs a value", command: current?.fullName) }
            return arguments[index]
        }
        while index < arguments.count {
            let token = arguments[index]
            if token == "-h" {
                parsed.help = true
            } else if token.hasPrefix("-") && token.count > 1 {
                guard token.hasPrefix("--"), token.count > 2 else {
                    throw UsageError("unknown option '\(token)'", command: current?.fullName)
                }
                let body = token.dropFirst(2)
                let name = String(body.prefix { $0 != "=" })
                let inline = body.firstIndex(of: "=").map { String(body[body.index(after: $0)...]) }
                switch name {
                case "help", "json":
                    guard inline == nil else { throw UsageError("option --\(name) takes no value", command: current?.fullName) }
                    if name == "help" { parsed.help = true } else { parsed.json = true }
                case "socket":
                    parsed.socket = try nonEmpty(value(for: name, inline: inline), name, current)
                case "config":
                    parsed.config = try nonEmpty(value(for: name, inline: inline), name, current)
                case "timeout":
                    let text = try value(for: name, inline: inline)
                    guard let timeout = parseDuration(text), timeout > .zero, timeout <= .seconds(3600) else {
                        throw UsageError("--timeout needs a number of seconds from 0.001 to 3600, got '\(text)'", command: current?.fullName)
                    }
                    parsed.timeout = timeout
                default:
                    guard let command = current else {
                        throw UsageError("unknown option '--\(name)' (a command's options go after the command)")
                    }
                    guard let spec = command.options.first(where: { $0.name == name }) else {
                        throw UsageError("unknown option '--\(name)' for '\(command.fullName)'", command: command.fullName)
                    }
                    if spec.valueName == nil {
                        guard inline == nil else { throw UsageError("option --\(name) takes no value", command: command.fullName) }
                        parsed.options[name] = ""
                    } else {
                        parsed.options[name] = try value(for: name, inline: inline)
                    }
                }
            } else if let command = current, !command.subcommands.isEmpty {
                guard let sub = command.subcommands.first(where: { $0.name == token }) else {
                    throw UsageError("unknown subcommand '\(token)' of '\(command.name)' (one of: \(command.subcommands.map(\.name).joined(separator: ", ")))",
                                     command: command.fullName)
                }
                current = sub
                parsed.subcommand = token
            } else if let command = current {
                guard parsed.positionals.count < command.arguments.count else {
                    throw UsageError("unexpected argument '\(token)' for '\(command.fullName)'", command: command.fullName)
                }
                parsed.positionals.append(token)
            } else {
                guard let command = commands.first(where: { $0.name == token }) else {
                    throw UsageError("unknown command '\(token)'")
                }
                current = command
                parsed.command = token
            }
            index += 1
        }
        if parsed.socket != nil && parsed.config != nil {
            throw UsageError("give --socket or --config, not both", command: current?.fullName)
        }
        if let command = current, !command.subcommands.isEmpty, !parsed.help {
            throw UsageError("'\(command.name)' needs a subcommand: \(command.subcommands.map(\.name).joined(separator: ", "))", command: command.fullName)
        }
        if parsed.json, let command = current, !command.acceptsJSON, !parsed.help {
            throw UsageError("'\(command.fullName)' has no --json output", command: command.fullName)
        }
        return parsed
    }

    /// The value of a command's option, parsed as seconds (`2`, `0.5`, `2s`, `500ms`), checked against `range`.
    public func duration(_ name: String, in range: ClosedRange<Duration>) throws(UsageError) -> Duration? {
        guard let text = options[name] else { return nil }
        guard let value = Arguments.parseDuration(text), range.contains(value) else {
            throw UsageError("--\(name) needs seconds from \(Arguments.seconds(range.lowerBound)) to \(Arguments.seconds(range.upperBound)), got '\(text)'", command: command)
        }
        return value
    }

    /// The value of a command's option, parsed as a whole number in `range`.
    public func integer(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = options[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError("--\(name) needs a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'", command: command)
        }
        return value
    }

    /// Seconds as `2`, `0.5`, `2s` or `500ms`; nil when malformed.
    public static func parseDuration(_ text: String) -> Duration? {
        var number = Substring(text), scale = 1.0
        if number.hasSuffix("ms") { number = number.dropLast(2); scale = 0.001 }
        else if number.hasSuffix("s") { number = number.dropLast() }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(number), value.isFinite else { return nil }
        return .milliseconds(Int64((value * scale * 1000).rounded()))
    }

    private static func seconds(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)" : "\(Double(milliseconds) / 1000)"
    }

    private static func nonEmpty(_ value: String, _ name: String, _ command: Command?) throws(UsageError) -> String {
        guard !value.isEmpty else { throw UsageError("option --\(name) needs a value", command: command?.name) }
        return value
    }
}
