#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Writes `<priority>label: message` lines to stderr, the prefix journald understands.
public struct StandardErrorLogHandler: LogHandler {
    public init() {}

    public func log(level: LogLevel, label: String, message: String) {
        let line = "<\(level.rawValue)>\(label): \(message)\n"
        var bytes = Array(line.utf8)
        // One write(2) per line keeps lines from different threads whole.
        bytes.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// Keeps messages in memory, for tests.
public final class InMemoryLogHandler: LogHandler {
    public struct Entry: Sendable, Equatable {
        public let level: LogLevel
        public let label: String
        public let message: String
    }

    private let storage = Mutex<[Entry]>([])

    public init() {}

    public func log(level: LogLevel, label: String, message: String) {
        storage.withLock { $0.append(Entry(level: level, label: label, message: message)) }
    }

    public var entries: [Entry] { storage.withLock { $0 } }

    /// Whether some message at `level` or above contains `text`.
    public func contains(_ text: String, atLeast level: LogLevel = .debug) -> Bool {
        entries.contains { $0.level >= level && $0.message.contains(text) }
    }
}

/// Passes on messages at or above a threshold that can change while the program runs
/// (e.g. on reload); loggers in front of it should use level `.debug`.
public final class LevelFilter: LogHandler {
    private let threshold: Atomic<Int>
    private let next: any LogHandler

    public init(_ level: LogLevel, next: any LogHandler = StandardErrorLogHandler()) {
        threshold = Atomic(level.rawValue)
        self.next = next
    }

    public var level: LogLevel {
        get { LogLevel(rawValue: threshold.load(ordering: .relaxed)) ?? .info }
        set { threshold.store(newValue.rawValue, ordering: .relaxed) }
    }

    public func log(level: LogLevel, label: String, message: String) {
        if level.rawValue <= threshold.load(ordering: .relaxed) { next.log(level: level, label: label, message: message) }
    }
}
