import Posix
import Synchronization

/// Where `qlinkctl` writes text: standard output or error, or a buffer in tests.
public protocol OutputSink: Sendable {
    /// Writes `text` as is (callers add the newlines).
    func write(_ text: String) throws(OutputError)
    /// True when the sink is a terminal, so `top` may redraw the screen with ANSI codes.
    var isTerminal: Bool { get }
}

extension OutputSink {
    /// Writes `text` and a newline.
    public func line(_ text: String) throws(OutputError) {
        try write(text + "\n")
    }

    /// Writes each of `lines` followed by a newline, in one write.
    public func lines(_ lines: [String]) throws(OutputError) {
        guard !lines.isEmpty else { return }
        try write(lines.joined(separator: "\n") + "\n")
    }
}

/// Writing to an output failed.
public struct OutputError: Error, Sendable, CustomStringConvertible {
    public let error: SystemError
    public init(_ error: SystemError) { self.error = error }

    /// The reader went away (`qlinkctl events | head`): not worth a message.
    public var isBrokenPipe: Bool { error.errno == .brokenPipe }
    public var description: String { error.description }
}

/// A file descriptor the process inherited: 1 (standard output) or 2 (standard error).
///
/// Writes go straight to `write(2)`, unbuffered, so every line of a stream shows at once.
public struct StandardStream: OutputSink {
    public let descriptor: Int32
    public let isTerminal: Bool

    public init(descriptor: Int32) {
        self.descriptor = descriptor
        self.isTerminal = System.isTerminal(descriptor)
    }

    public static let output = StandardStream(descriptor: 1)
    public static let error = StandardStream(descriptor: 2)

    public func write(_ text: String) throws(OutputError) {
        do {
            try FileDescriptor(rawValue: descriptor).writeAll(Array(text.utf8))
        } catch {
            throw OutputError(SystemError(error.errno, descriptor == 1 ? "standard output" : "standard error"))
        }
    }
}

/// An in-memory sink, for tests and for callers that post-process the output.
public final class BufferedOutput: OutputSink {
    private let buffer = Mutex("")
    public let isTerminal: Bool

    public init(isTerminal: Bool = false) {
        self.isTerminal = isTerminal
    }

    public func write(_ text: String) throws(OutputError) {
        buffer.withLock { $0 += text }
    }

    /// Everything written so far.
    public var text: String { buffer.withLock { $0 } }

    /// Waits until the text satisfies `condition`, checking every 10 ms for at most `timeout`.
    /// Returns whether it did.
    public func wait(timeout: Duration = .seconds(30), until condition: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition(text) {
            guard ContinuousClock.now < deadline else { return false }
            do { try await Task.sleep(for: .milliseconds(10)) } catch { return condition(text) }
        }
        return true
    }
}
