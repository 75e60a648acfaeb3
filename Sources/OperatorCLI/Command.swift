import Control

/// One `qlinkctl` command: its name, usage and what it does.
///
/// To add a command (meter, chain, radio, ...), write a `static let` like those in
/// `Commands.swift` and list it in `Command.all`; parsing, `--help` and exit statuses follow.
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
    /// Does the work; returns the exit status, or throws `ClientError`, `UsageError`,
    /// `OutputError` or `DaemonConfig.Failure`, which `QlinkCtl` reports.
    public var run: @Sendable (CommandContext) async throws -> Int32

    public init(name: String, summary: String, options: [OptionSpec] = [], arguments: [String] = [],
                acceptsJSON: Bool = true, streams: Bool = false, needsDaemon: Bool = true,
                run: @escaping @Sendable (CommandContext) async throws -> Int32) {
        self.name = name
        self.summary = summary
        self.options = options
        self.arguments = arguments
        self.acceptsJSON = acceptsJSON
        self.streams = streams
        self.needsDaemon = needsDaemon
        self.run = run
    }

    /// Every command, in the order `--help` lists them.
    public static let all: [Command] = [status, subscribers, events, top, ping, reload, help]

    /// `name [--option VALUE]... [ARGUMENT]... [--json]`.
    public var synopsis: String {
        ([name] + options.map { "[\($0.synopsis)]" } + arguments.map { "[\($0)]" } + (acceptsJSON ? ["[--json]"] : []))
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
