import Daemon

/// Finds `qlinkd`'s control socket from its config file, read with `qlinkd`'s own parser
/// and drop-ins (`FILE.d/*.conf`); only `[control] socket` and `[paths] runtime` are
/// checked, so a typo elsewhere does not cut the operator off from a running daemon.
public enum DaemonConfig {
    /// The config read when neither `--socket` nor `--config` is given, if it exists.
    public static let defaultPath = ConfigLoader.defaultPath
    /// The socket used when there is no config at all.
    public static let defaultSocketPath = Settings().controlSocket

    /// A config that cannot be used.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// The file (or a drop-in) could not be read.
        case unreadable(path: String, reason: String)
        /// A malformed line or a bad value: `file:line: message`.
        case invalid(path: String, line: Int, message: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read config \(path): \(reason)"
            case .invalid(let path, let line, let message): "\(path):\(line): \(message)"
            }
        }

        init(_ error: ConfigError, config: String) {
            if let location = error.location {
                self = .invalid(path: location.file, line: location.line, message: error.message)
            } else if let file = error.unreadableFile {
                self = .unreadable(path: file, reason: String(error.message.dropFirst("cannot read config \(file): ".count)))
            } else {
                self = .invalid(path: config, line: 0, message: error.message)
            }
        }
    }

    /// The control socket named by the config at `config` and its drop-ins.
    public static func controlSocketPath(config: String) throws(Failure) -> String {
        do {
            return try ConfigLoader.controlSocket(path: config)
        } catch {
            throw Failure(error, config: config)
        }
    }

    /// The drop-ins of `config`, in the order they apply.
    public static func dropIns(of config: String) -> [String] {
        INIFile.dropIns(of: config)
    }
}
