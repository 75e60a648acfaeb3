#if canImport(Glibc)
import Glibc
#endif
import HAL
import Crypto
import Logging
import Posix

/// `qlinkd`: parses the command line and config, takes the state lock, loads the station
/// key, and runs the services until SIGTERM/SIGINT. SIGHUP reloads what can be reloaded.
public enum QlinkDaemon {
    /// Exit codes from sysexits.h, which systemd and operators recognise.
    public enum ExitCode {
        public static let ok: Int32 = 0
        public static let failure: Int32 = 1
        public static let usage: Int32 = 64
        public static let dataError: Int32 = 65
        public static let cannotCreate: Int32 = 73
        public static let tempFail: Int32 = 75
        public static let config: Int32 = 78
    }

    static let usage = """
        usage: qlinkd [--config FILE] [--check-config] [--list-keys] [--version]
          --config FILE    the config (default \(ConfigLoader.defaultPath)); drop-ins FILE.d/*.conf override it
          --check-config   parse the config and its drop-ins, report the first error, and exit
          --list-keys      print every config key with its default and meaning
        """

    /// Signals the daemon handles; `main.swift` blocks them before anything else runs.
    public static let handledSignals = [SIGTERM, SIGINT, SIGHUP]

    public static func main(arguments: [String]) async -> Int32 {
        var configPath = ConfigLoader.defaultPath
        var checkOnly = false
        var rest = arguments.dropFirst()[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--config", "-c":
                guard let path = rest.popFirst() else { return fail("--config needs a file", code: ExitCode.usage) }
                configPath = path
            case "--check-config": checkOnly = true
            case "--list-keys":
                for key in ConfigSchema.keys {
                    print("[\(key.section)] \(key.name) = \(key.defaultValue)\n    \(key.summary)")
                }
                return ExitCode.ok
            case "--version": print("qlinkd \(DaemonResponder.version)"); return ExitCode.ok
            case "--help", "-h": print(usage); return ExitCode.ok
            default: return fail("unknown argument '\(argument)'\n\(usage)", code: ExitCode.usage)
            }
        }
        let settings: Settings
        do { settings = try ConfigLoader.load(path: configPath) } catch { return fail("\(error)", code: ExitCode.config) }
        if checkOnly {
            print("\(configPath): OK")
            return ExitCode.ok
        }
        return await run(settings: settings, configPath: configPath)
    }

    static func run(settings initial: Settings, configPath: String) async -> Int32 {
        let filter = LevelFilter(initial.logLevel)
        let logger = Logger(label: "qlinkd", level: .debug, handler: filter)
        do {
            try FileSystem.createDirectory(initial.stateDirectory, mode: 0o750)
            try FileSystem.createDirectory(initial.runtimeDirectory, mode: 0o755)
        } catch { return fail("\(error)", code: ExitCode.cannotCreate) }
        let lock: StateLock
        do { lock = try StateLock(path: initial.lockFile) } catch { return fail("\(error)", code: ExitCode.tempFail) }
        let identity: (key: SigningKey, created: Bool)
        do { identity = try StationIdentity.loadOrCreate(path: initial.stationKeyFile) } catch { return fail("\(error)", code: ExitCode.dataError) }
        logger.notice("qlinkd \(DaemonResponder.version) starting: station \(initial.stationName), board \(initial.boardProfile.rawValue), pid \(getpid())")
        logger.info("station key \(identity.created ? "created" : "loaded"): \(identity.key.publicKey)")

        let signals: SignalSource
        do { signals = try SignalSource(handledSignals) } catch { return fail("\(error)", code: ExitCode.failure) }
        let store = SettingsStore(initial)
        let reload: @Sendable () async -> Result<String, ConfigError> = {
            reloadConfig(path: configPath, store: store, filter: filter, logger: logger)
        }
        let group: ServiceGroup
        do { group = try DaemonWiring(settings: store, key: identity.key, logger: logger, reload: reload).serviceGroup() } catch {
            return fail("\(error)", code: ExitCode.cannotCreate)
        }
        let signalTask = Task {
            while let signal = try? await signals.next() {
                if signal == SIGHUP {
                    _ = await reload()
                } else {
                    group.shutdown(reason: signal == SIGTERM ? "SIGTERM" : "SIGINT")
                }
            }
        }
        defer {
            signalTask.cancel()
            signals.close()
            withExtendedLifetime(lock) {}
        }
        do {
            try await group.run()
            logger.notice("stopped")
            return ExitCode.ok
        } catch {
            logger.critical("\(error)")
            return ExitCode.failure
        }
    }

    /// Re-reads the config; applies what can change at run time, keeps the rest, and says which.
    static func reloadConfig(path: String, store: SettingsStore, filter: LevelFilter, logger: Logger) -> Result<String, ConfigError> {
        let fresh: Settings
        do { fresh = try ConfigLoader.load(path: path) } catch {
            logger.error("reload refused, keeping the running config: \(error)")
            return .failure(error)
        }
        var applied = store.current
        applied.logLevel = fresh.logLevel
        applied.pollInterval = fresh.pollInterval
        store.replace(applied)
        filter.level = fresh.logLevel
        var notes = ["reloaded \(path)"]
        if applied != fresh { notes.append("some changed keys need a restart (only \(ConfigSchema.reloadable.sorted().joined(separator: ", ")) apply at once)") }
        let summary = notes.joined(separator: "; ")
        logger.notice(summary)
        return .success(summary)
    }

    private static func fail(_ message: String, code: Int32) -> Int32 {
        var line = Array("qlinkd: \(message)\n".utf8)
        line.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
        return code
    }
}
