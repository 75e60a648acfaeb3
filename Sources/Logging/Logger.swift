/// How much a log message matters; the raw value is the journald/syslog priority.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    case critical = 2, error = 3, warning = 4, notice = 5, info = 6, debug = 7

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue > b.rawValue }

    public var description: String {
        switch self {
        case .critical: "critical"
        case .error: "error"
        case .warning: "warning"
        case .notice: "notice"
        case .info: "info"
        case .debug: "debug"
        }
    }

    /// Parses "debug", "info", ... as written in the config.
    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = level
    }
}

/// Where log messages go.
public protocol LogHandler: Sendable {
    func log(level: LogLevel, label: String, message: String)
}

/// A small value logger in swift-log's shape: a label, a threshold and a handler.
public struct Logger: Sendable {
    public let label: String
    public var level: LogLevel
    public let handler: any LogHandler

    public init(label: String, level: LogLevel = .info, handler: any LogHandler = StandardErrorLogHandler()) {
        self.label = label
        self.level = level
        self.handler = handler
    }

    /// The same handler and level under another label.
    public func child(_ label: String) -> Logger {
        Logger(label: label, level: level, handler: handler)
    }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard level >= self.level else { return }
        handler.log(level: level, label: label, message: message())
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func notice(_ message: @autoclosure () -> String) { log(.notice, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
    public func critical(_ message: @autoclosure () -> String) { log(.critical, message()) }
}
