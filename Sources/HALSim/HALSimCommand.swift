#if canImport(Glibc)
import Glibc
#endif
import HAL
import Logging
import Posix

/// The `hal-sim` executable's entry point: runs the simulated board, or `ctl` talks to one.
public enum HALSimCommand {
    /// sysexits(3): EX_USAGE, EX_UNAVAILABLE.
    public static let usageStatus: Int32 = 64
    public static let notRunningStatus: Int32 = 69

    /// The signals that stop the simulator; `main` blocks them before any thread starts
    /// (`AsyncMain`), so they queue for its signalfd.
    public static let stopSignals = [SIGTERM, SIGINT]

    /// Runs the command line (without the program name) and returns the exit status.
    public static func main(_ arguments: [String]) async -> Int32 {
        let logger = Logger(label: "hal-sim")
        let cwd = workingDirectory()
        if arguments.first == "ctl" { return await control(Array(arguments.dropFirst()), workingDirectory: cwd) }
        if arguments.contains("--help") || arguments.contains("-h") {
            print(SimulatorOptions.usage)
            return 0
        }
        do throws(UsageError) {
            let options = try SimulatorOptions.parse(arguments, workingDirectory: cwd)
            let scenario = try options.loadScenario()
            return await Simulator(options: options, scenario: scenario, logger: logger).run()
        } catch {
            printError("hal-sim: \(error.message)\n\(SimulatorOptions.usage)")
            return usageStatus
        }
    }

    static func control(_ arguments: [String], workingDirectory: String) async -> Int32 {
        let options: ControlOptions
        do { options = try ControlOptions.parse(arguments, workingDirectory: workingDirectory) } catch {
            printError("hal-sim: \(error.message)")
            return 1
        }
        do {
            print(try await ControlClient.request(options.words, root: options.root), terminator: "")
            return 0
        } catch {
            printError("hal-sim: \(error)")
            if case .notRunning = error { return notRunningStatus }
            return 1
        }
    }
}

/// A command line hal-sim cannot act on.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `hal-sim --root DIR [--scenario NAME|FILE] [--seed N] [--speed X] [--subscribers N] [--ues N] [--counter-bits 32|64] [--accounting yes|no] [--paused yes|no]`
public struct SimulatorOptions: Sendable, Equatable {
    /// Absolute path of the simulated board's root directory.
    public var root: String
    /// A built-in scenario name or a path to a scenario file.
    public var scenario = BuiltinScenarios.defaultName
    public var seed: UInt64 = 1
    public var speed: Double = 1
    public var subscribers: Int?
    /// The cellular population (UEs); nil: the scenario's `ues`, else a third of `subscribers`.
    public var ues: Int?
    public var counterWidth: CounterWidth = .bits32
    /// Whether the emulated hostapd sends RADIUS accounting to qlinkd (`--accounting yes|no`).
    public var accounting = true
    /// Start with the world frozen (`--paused yes`), so a meter can be in place before the first byte moves.
    public var paused = false

    public static let usage = """
        usage: hal-sim --root DIR [--scenario NAME|FILE] [--seed N] [--speed X] [--subscribers N] [--ues N] [--counter-bits 32|64]
                       [--accounting yes|no] [--paused yes|no]
               hal-sim ctl --root DIR truth [--json] | status | inject EVENT [ARG...]
        scenarios: \(BuiltinScenarios.names.joined(separator: ", ")) (default \(BuiltinScenarios.defaultName)), or a file
        events: hostapd-restart [SECONDS], counter-reset [ID], wrap32 [ID] [SECONDS], radio-restart [SECONDS],
                thermal-spike [SECONDS], frontend-unplug, frontend-plug, gps-lost, gps-fix, pause, resume
        """

    public init(root: String) {
        self.root = root
    }

    public static func parse(_ arguments: [String], workingDirectory: String) throws(UsageError) -> SimulatorOptions {
        var root: String?
        var options = SimulatorOptions(root: "")
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            switch flag {
            case "--root":
                root = value
            case "--scenario":
                options.scenario = value
            case "--seed":
                guard let seed = UInt64(value) else { throw UsageError("--seed must be a whole number, got '\(value)'") }
                options.seed = seed
            case "--speed":
                guard let speed = Double(value), speed > 0, speed <= 1_000_000 else { throw UsageError("--speed must be a number above 0, got '\(value)'") }
                options.speed = speed
            case "--subscribers":
                guard let n = Int(value), (1...4096).contains(n) else { throw UsageError("--subscribers must be from 1 to 4096, got '\(value)'") }
                options.subscribers = n
            case "--ues":
                guard let n = Int(value), (0...4096).contains(n) else { throw UsageError("--ues must be from 0 to 4096, got '\(value)'") }
                options.ues = n
            case "--counter-bits":
                guard let bits = Int(value), let width = CounterWidth(rawValue: bits) else { throw UsageError("--counter-bits must be 32 or 64, got '\(value)'") }
                options.counterWidth = width
            case "--paused":
                switch value {
                case "yes": options.paused = true
                case "no": options.paused = false
                default: throw UsageError("--paused must be yes or no, got '\(value)'")
                }
            case "--accounting":
                switch value {
                case "yes": options.accounting = true
                case "no": options.accounting = false
                default: throw UsageError("--accounting must be yes or no, got '\(value)'")
                }
            default:
                throw UsageError("unknown option '\(flag)'")
            }
        }
        guard let root, !root.isEmpty else { throw UsageError("--root DIR is required") }
        options.root = absolutePath(root, in: workingDirectory)
        return options
    }

    /// Loads the scenario: a built-in one by name, or else the file at that path.
    public func loadScenario() throws(UsageError) -> Scenario {
        do throws(ScenarioError) {
            if let builtin = try BuiltinScenarios.scenario(named: scenario) { return builtin }
        } catch {
            throw UsageError(error.description)
        }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(scenario) } catch {
            throw UsageError("scenario '\(scenario)' is neither built in (\(BuiltinScenarios.names.joined(separator: ", "))) nor a readable file: \(error)")
        }
        let base = scenario.split(separator: "/").last.map(String.init) ?? scenario
        let name = base.hasSuffix(".conf") ? String(base.dropLast(5)) : base
        do { return try Scenario.parse(String(decoding: bytes, as: UTF8.self), file: scenario, name: name) } catch {
            throw UsageError(error.description)
        }
    }
}

/// `hal-sim ctl --root DIR truth [--json] | sessions | status | inject EVENT [ARG...]`
public struct ControlOptions: Sendable, Equatable {
    public var root: String
    /// The request words sent to the running hal-sim.
    public var words: [String]

    public static func parse(_ arguments: [String], workingDirectory: String) throws(UsageError) -> ControlOptions {
        var root: String?
        var words: [String] = []
        var rest = arguments[...]
        while let word = rest.popFirst() {
            if word == "--root" {
                guard let value = rest.popFirst() else { throw UsageError("--root needs a value") }
                root = value
            } else {
                words.append(word)
            }
        }
        guard let root, !root.isEmpty else { throw UsageError("ctl needs --root DIR") }
        switch words.first {
        case "truth":
            guard words.dropFirst().allSatisfy({ $0 == "--json" }), words.count <= 2 else { throw UsageError("usage: truth [--json]") }
        case "sessions":
            guard words.count == 1 || words == ["sessions", "--json"] else { throw UsageError("usage: sessions") }
            words = ["sessions"]
        case "status":
            guard words.count == 1 || words == ["status", "--json"] else { throw UsageError("usage: status") }
            words = ["status"]
        case "inject":
            guard (2...4).contains(words.count) else { throw UsageError("usage: inject EVENT [ARG...]") }
        case nil:
            throw UsageError("ctl needs a command: truth, sessions, status or inject")
        case let other?:
            throw UsageError("unknown ctl command '\(other)' (expected truth, sessions, status or inject)")
        }
        return ControlOptions(root: absolutePath(root, in: workingDirectory), words: words)
    }
}

/// `path` made absolute against `directory`, with `.`, `..` and repeated slashes resolved.
func absolutePath(_ path: String, in directory: String) -> String {
    let joined = path.hasPrefix("/") ? path : directory + "/" + path
    var components: [Substring] = []
    for component in joined.split(separator: "/") {
        switch component {
        case ".": continue
        case "..": _ = components.popLast()
        default: components.append(component)
        }
    }
    return "/" + components.joined(separator: "/")
}
