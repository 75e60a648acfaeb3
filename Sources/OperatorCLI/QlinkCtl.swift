import Posix

/// `qlinkctl`, the operator's CLI: parses the command line, finds the daemon's socket,
/// runs one command against it and turns every failure into a message and an exit status.
public enum QlinkCtl {
    /// Runs `qlinkctl` with `arguments` (without the program name) and returns the exit status.
    ///
    /// - Parameters:
    ///   - output: where results go (standard output).
    ///   - error: where messages go (standard error).
    ///   - interrupt: stops the command early; `.signals` in the real program. A stream
    ///     (`events`, `top`) stopped this way exits 0, any other command 128 + the signal.
    ///   - defaultConfig: the config read, if it exists, when neither `--socket` nor `--config` is given.
    public static func main(arguments: [String], output: any OutputSink, error errorOutput: any OutputSink,
                            interrupt: Interrupt = .never, defaultConfig: String = DaemonConfig.defaultPath) async -> Int32 {
        let parsed: Arguments
        do {
            parsed = try Arguments.parse(arguments, commands: Command.all)
        } catch {
            return usageFailure(error, to: errorOutput)
        }
        func report(_ message: String) { try? errorOutput.line("qlinkctl: \(message)") }

        guard let name = parsed.command, let command = Command.named([name, parsed.subcommand].compactMap { $0 }.joined(separator: " ")) else {
            if parsed.help {
                return (try? output.lines(Usage.full())) == nil ? ExitStatus.ioError : ExitStatus.ok
            }
            try? errorOutput.lines(["qlinkctl: no command given"] + Usage.short() + ["Try 'qlinkctl --help'."])
            return ExitStatus.usage
        }
        if parsed.help {
            return (try? output.lines(Usage.command(command))) == nil ? ExitStatus.ioError : ExitStatus.ok
        }

        var socketPath = ""
        if command.needsDaemon {
            do {
                socketPath = try resolveSocket(parsed, defaultConfig: defaultConfig, warn: report)
            } catch {
                report(error.description)
                return error.exitStatus
            }
        }

        let context = CommandContext(arguments: parsed, output: output, error: errorOutput, socketPath: socketPath, defaultConfig: defaultConfig)
        let outcome = await race({ () async -> Result<Int32, any Error> in
            do { return .success(try await command.run(context)) } catch { return .failure(error) }
        }, against: interrupt)

        switch outcome {
        case .interrupted(let signal):
            return command.streams ? ExitStatus.ok : ExitStatus.interrupted(by: signal)
        case .finished(.success(let status)):
            return status
        case .finished(.failure(let failure)):
            switch failure {
            case let failure as UsageError:
                return usageFailure(failure, to: errorOutput)
            case let failure as QuietExit:
                return failure.status
            case let failure as OutputError where failure.isBrokenPipe:
                // The reader went away (`| head`): for a stream that is how it ends.
                return command.streams ? ExitStatus.ok : ExitStatus.ioError
            case let failure as OutputError:
                report(failure.description)
                return ExitStatus.ioError
            case let failure as DaemonConfig.Failure:
                report(failure.description)
                return failure.exitStatus
            default:
                let failure = ClientError.classify(failure, path: socketPath, doing: command.name)
                report(failure.description)
                return failure.exitStatus
            }
        }
    }

    /// The socket to use: `--socket`, else the one `--config` names, else the one the
    /// default config names when that file exists, else `/run/qlink/qlinkd.sock`.
    ///
    /// A default config that cannot be used is warned about and skipped: it was not asked for.
    static func resolveSocket(_ arguments: Arguments, defaultConfig: String, warn: (String) -> Void) throws(DaemonConfig.Failure) -> String {
        if let socket = arguments.socket { return socket }
        if let config = arguments.config { return try DaemonConfig.controlSocketPath(config: config) }
        guard FileSystem.exists(defaultConfig) else { return DaemonConfig.defaultSocketPath }
        do {
            return try DaemonConfig.controlSocketPath(config: defaultConfig)
        } catch {
            warn("warning: \(error.description); using \(DaemonConfig.defaultSocketPath)")
            return DaemonConfig.defaultSocketPath
        }
    }

    private static func usageFailure(_ failure: UsageError, to sink: any OutputSink) -> Int32 {
        let usage = failure.command.flatMap(Command.named).map { ["usage: qlinkctl \($0.synopsis)"] } ?? Usage.short()
        try? sink.lines(["qlinkctl: \(failure.message)"] + usage + ["Try 'qlinkctl --help'."])
        return ExitStatus.usage
    }
}

extension ClientError {
    /// The exit status this failure ends `qlinkctl` with.
    public var exitStatus: Int32 {
        switch self {
        case .notRunning, .connectionLost: ExitStatus.unavailable
        case .permissionDenied: ExitStatus.noPermission
        case .timedOut: ExitStatus.timedOut
        case .garbled: ExitStatus.protocolError
        case .refused: ExitStatus.refused
        case .cancelled: ExitStatus.interrupted(by: 2)
        case .system: ExitStatus.ioError
        }
    }
}

extension DaemonConfig.Failure {
    /// EX_NOINPUT for a file that cannot be read, EX_CONFIG for one that is malformed.
    public var exitStatus: Int32 {
        switch self {
        case .unreadable: ExitStatus.noInput
        case .invalid: ExitStatus.config
        }
    }
}

/// The usage texts, built from `Command.all` and `Arguments.globalOptions`.
public enum Usage {
    static let synopsis = "usage: qlinkctl [--socket PATH | --config FILE] [--timeout S] COMMAND [OPTIONS] [--json]"

    /// The synopsis alone, for usage errors.
    public static func short() -> [String] { [synopsis] }

    /// Everything: synopsis, commands, options, exit statuses.
    public static func full() -> [String] {
        let commandRows = Command.all.map { ($0.synopsis.replacing(" [--json]", with: ""), $0.summary) }
        let optionRows = Arguments.globalOptions.map { ($0.name == "help" ? "-h, --help" : $0.synopsis, $0.summary) }
        return [synopsis, "",
                "The operator's CLI of a Qlink base station: talks to qlinkd over its control socket.",
                "Without --socket or --config it reads \(DaemonConfig.defaultPath) if that exists, else uses \(DaemonConfig.defaultSocketPath).",
                "", "commands:"] + columns(commandRows) + ["", "options:"] + columns(optionRows) + [
                "", "exit status: 0 ok, 1 qlinkd refused the request (meter verify: the journal is broken), 64 usage,",
                "  65 damaged journal lines (meter), 66 config or journal unreadable, 69 qlinkd not running,",
                "  74 I/O error, 75 no answer in time, 76 garbled reply, 77 permission denied, 78 bad config,",
                "  128+N stopped by signal N (events and top: 0).",
        ]
    }

    /// One command's usage and options.
    public static func command(_ command: Command) -> [String] {
        let global = command.needsDaemon ? "[--socket PATH | --config FILE]" : "[--config FILE]"
        var lines = ["usage: qlinkctl \(global) \(command.synopsis)", "", command.summary]
        if !command.subcommands.isEmpty {
            lines += ["", "subcommands:"] + command.subcommands.flatMap { ["  " + $0.synopsis, "      " + $0.summary] }
        }
        if !command.details.isEmpty { lines += [""] + command.details }
        if !command.options.isEmpty {
            lines += ["", "options:"] + columns(command.options.map { ($0.synopsis, $0.summary) })
        }
        return lines
    }

    private static func columns(_ rows: [(String, String)]) -> [String] {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }
    }
}
