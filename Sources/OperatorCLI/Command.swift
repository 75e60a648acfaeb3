import Control

/// One `qlinkctl` command: its name, usage and what it does.
///
/// To add a command (meter, chain, radio, ...), write a `static let` like those below or in
/// `Streams.swift` and list it in `Command.all`; parsing, `--help` and exit statuses follow.
public struct Command: Sendable {
    public var name: String
    /// One line for the command list.
    public var summary: String
    /// The command's own options (after its name).
    public var options: [OptionSpec]
    /// Placeholders of the optional positional arguments it takes, in order (`COMMAND`).
    public var arguments: [String]
    public var acceptsJSON: Bool
    /// Runs until stopped: SIGINT/SIGTERM (or a closed pipe) is a normal end, exit status 0.
    public var streams: Bool
    /// Talks to `qlinkd`, so the socket path must be resolved first.
    public var needsDaemon: Bool
    /// Commands under this one (`meter show`): the first argument picks one, whose options then apply.
    public var subcommands: [Command]
    /// The name as typed, with the parent's in front for a subcommand (`meter show`).
    public var fullName: String
    /// More usage text, shown by `help COMMAND` after the summary (formats, defaults).
    public var details: [String]
    /// Does the work; returns the exit status, or throws `ClientError`, `UsageError`,
    /// `OutputError` or `DaemonConfig.Failure`, which `QlinkCtl` reports.
    public var run: @Sendable (CommandContext) async throws -> Int32

    public init(name: String, summary: String, options: [OptionSpec] = [], arguments: [String] = [],
                acceptsJSON: Bool = true, streams: Bool = false, needsDaemon: Bool = true, subcommands: [Command] = [],
                details: [String] = [], run: @escaping @Sendable (CommandContext) async throws -> Int32) {
        self.name = name
        self.summary = summary
        self.options = options
        self.arguments = arguments
        self.acceptsJSON = acceptsJSON
        self.streams = streams
        self.needsDaemon = needsDaemon
        self.fullName = name
        self.details = details
        self.subcommands = subcommands.map { sub in
            var sub = sub
            sub.fullName = "\(name) \(sub.name)"
            return sub
        }
        self.run = run
    }

    /// Every command, in the order `--help` lists them.
    public static let all: [Command] = [status, subscribers, events, top, radio, board, chain, ping, reload, meter, help]

    /// A command by its full name (`status`, `meter show`).
    public static func named(_ fullName: String) -> Command? {
        let words = fullName.split(separator: " ").map(String.init)
        guard let first = words.first, var command = all.first(where: { $0.name == first }) else { return nil }
        for word in words.dropFirst() {
            guard let sub = command.subcommands.first(where: { $0.name == word }) else { return nil }
            command = sub
        }
        return command
    }

    /// `name [--option VALUE]... [ARGUMENT]... [--json]`; `name SUBCOMMAND [OPTIONS]` for a command with subcommands.
    public var synopsis: String {
        if !subcommands.isEmpty { return "\(fullName) SUBCOMMAND [OPTIONS]" }
        return ([fullName] + options.map { "[\($0.synopsis)]" } + arguments.map { "[\($0)]" } + (acceptsJSON ? ["[--json]"] : []))
            .joined(separator: " ")
    }
}

/// What a running command is given: its parsed arguments, the sinks, and the daemon's socket.
public struct CommandContext: Sendable {
    public let arguments: Arguments
    public let output: any OutputSink
    public let error: any OutputSink
    /// The control socket; empty for commands that do not need the daemon.
    public let socketPath: String
    /// The config read when `--config` is not given (if it exists), for commands that read the daemon's files.
    public let defaultConfig: String

    public var json: Bool { arguments.json }

    /// A deadline `--timeout` from now, for one exchange with the daemon.
    public func deadline() -> ContinuousClock.Instant {
        .now + arguments.timeout
    }

    /// Connects to the daemon within `--timeout`.
    public func connect() async throws(ClientError) -> ControlClient {
        try await ControlClient.connect(to: socketPath, deadline: deadline())
    }

    /// Connects, sends one request, returns its reply and hangs up.
    public func call(_ command: String, _ arguments: [String: String] = [:]) async throws(ClientError) -> Reply {
        let client = try await connect()
        defer { client.close() }
        return try await client.call(ControlRequest(command, arguments), deadline: deadline())
    }
}

/// `key value` lines with the values aligned, for short summaries.
func aligned(_ pairs: [(String, String)]) -> [String] {
    let width = pairs.map(\.0.count).max() ?? 0
    return pairs.map { key, value in
        key + String(repeating: " ", count: width - key.count + 2) + value
    }
}

/// The one-shot commands: one request, one reply, one printout.
extension Command {
    /// `status`: the daemon at a glance.
    public static let status = Command(name: "status", summary: "the daemon at a glance: version, uptime, station, Wi-Fi, subscribers") { context in
        let reply = try await context.call("status")
        let report = try reply.decode(StatusReport.self)
        if context.json {
            try context.output.line(reply.result.compactText)
        } else {
            try context.output.lines(statusLines(report))
        }
        return ExitStatus.ok
    }

    /// `subscribers`: everyone seen since the daemon started, with their byte counts.
    public static let subscribers = Command(name: "subscribers", summary: "every subscriber seen since qlinkd started, bytes up and down") { context in
        let reply = try await context.call("subscribers")
        let reports = try reply.decode([SubscriberReport].self)
        if context.json {
            try context.output.line(reply.result.compactText)
        } else if reports.isEmpty {
            try context.output.line("no subscribers seen since qlinkd started")
        } else {
            try context.output.lines(subscriberTable(reports))
        }
        return ExitStatus.ok
    }

    /// `ping`: checks that the daemon answers.
    public static let ping = Command(name: "ping", summary: "check that qlinkd answers (prints pong)") { context in
        let reply = try await context.call("ping")
        try context.output.line(context.json ? jsonText(reply.result) : "pong")
        return ExitStatus.ok
    }

    /// `reload`: asks the daemon to re-read its configuration.
    public static let reload = Command(name: "reload", summary: "ask qlinkd to re-read its config (as SIGHUP does)") { context in
        let reply = try await context.call("reload")
        if context.json {
            try context.output.line(jsonText(reply.result))
        } else {
            try context.output.lines(humanLines(reply.result, empty: "reloaded"))
        }
        return ExitStatus.ok
    }

    /// `help [COMMAND]`: the usage text.
    public static let help = Command(name: "help", summary: "this text, or one command's usage", arguments: ["COMMAND"],
                                     acceptsJSON: false, needsDaemon: false) { context in
        if let name = context.arguments.positionals.first {
            guard let command = Command.named(name) else {
                throw UsageError("unknown command '\(name)'")
            }
            try context.output.lines(Usage.command(command))
        } else {
            try context.output.lines(Usage.full())
        }
        return ExitStatus.ok
    }

    static func statusLines(_ report: StatusReport) -> [String] {
        let wifi = report.wifiDetail.map { "\(report.wifi) (\($0))" } ?? report.wifi
        var lines: [(String, String)] = [
            ("qlinkd", "\(report.version) (pid \(report.pid))"),
            ("uptime", Format.duration(seconds: report.uptimeSeconds)),
            ("board", report.board),
            ("station", report.station),
            ("wifi", wifi),
        ]
        if let radio = report.radio { lines.append(("radio", report.radioDetail.map { "\(radio) (\($0))" } ?? radio)) }
        lines.append(("subscribers", "\(report.subscribers)"))
        if let metering = report.metering { lines.append(("metering", metering)) }
        if let gps = report.gps {
            lines.append(("gps", gps.latitude.map { "\(gps.fix) \($0), \(gps.longitude ?? 0)" } ?? gps.fix))
        }
        if let temperature = report.temperatureC {
            lines.append(("temperature", "\(temperature) °C\(report.thermalAlarm == true ? " (ALARM: over a trip point)" : "")"))
        }
        if let watchdog = report.watchdog { lines.append(("watchdog", watchdog)) }
        if let height = report.chainHeight { lines.append(("chain", "height \(height), final \(report.chainFinalHeight ?? 0)")) }
        return aligned(lines)
    }

    static func subscriberTable(_ reports: [SubscriberReport]) -> [String] {
        var table = Table([.init("ID"), .init("KIND"), .init("UP", .right), .init("DOWN", .right),
                           .init("CONNECTED", .right), .init("SIGNAL", .right)])
        for report in reports {
            table.append([
                report.id, report.kind, Format.bytes(report.upBytes), Format.bytes(report.downBytes),
                report.connected ? Format.duration(seconds: report.connectedSeconds) : "-",
                Format.signal(report.signalDBm),
            ])
        }
        return table.render()
    }

    /// A result as one JSON line; `{}` when the daemon sent none.
    static func jsonText(_ result: JSONValue) -> String {
        result == .null ? "{}" : result.compactText
    }

    /// A result for people: a string as is, an object as aligned `key value` lines, anything else as JSON.
    static func humanLines(_ result: JSONValue, empty: String) -> [String] {
        if result.isEmpty { return [empty] }
        if case .string(let text) = result { return [text] }
        guard case .object(let members) = result else { return [result.compactText] }
        return aligned(members.keys.sorted().map { key in
            if case .string(let text) = members[key]! { return (key, text) }
            return (key, members[key]!.compactText)
        })
    }
}

/// Exit statuses, from sysexits.h where one fits.
public enum ExitStatus {
    public static let ok: Int32 = 0
    /// The daemon refused the request (`ok:false`).
    public static let refused: Int32 = 1
    /// EX_USAGE: the command line is wrong.
    public static let usage: Int32 = 64
    /// EX_DATAERR: the metering journal has lines that are not whole records (`meter`).
    public static let dataError: Int32 = 65
    /// EX_NOINPUT: the `--config` file cannot be read.
    public static let noInput: Int32 = 66
    /// EX_UNAVAILABLE: qlinkd is not running (no socket, refused, or it hung up).
    public static let unavailable: Int32 = 69
    /// EX_IOERR: another system error.
    public static let ioError: Int32 = 74
    /// EX_TEMPFAIL: qlinkd did not answer within `--timeout`.
    public static let timedOut: Int32 = 75
    /// EX_PROTOCOL: the reply was garbled.
    public static let protocolError: Int32 = 76
    /// EX_NOPERM: not allowed to connect to the socket.
    public static let noPermission: Int32 = 77
    /// EX_CONFIG: the config file is malformed.
    public static let config: Int32 = 78

    /// A one-shot command stopped by a signal: 128 + the signal, as shells report it.
    public static func interrupted(by signal: Int32) -> Int32 { 128 + signal }
}
