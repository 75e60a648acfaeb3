import Posix

/// What stops a running command from outside: SIGINT/SIGTERM in the real program, a
/// trigger in tests, nothing at all by default.
///
/// `wait` returns the signal number that asked to stop, or nil when it was cancelled
/// (the command finished first) or can never fire. It must return promptly on cancellation.
public struct Interrupt: Sendable {
    public let wait: @Sendable () async -> Int32?

    public init(_ wait: @escaping @Sendable () async -> Int32?) {
        self.wait = wait
    }

    /// Never fires; returns when cancelled.
    public static let never = Interrupt {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        return nil
    }

    /// Fires on SIGINT or SIGTERM. `System.prepareProcess()` must have blocked them first.
    public static let signals = Interrupt {
        let signals = System.stopSignals
        do {
            let source = try SignalSource(signals)
            defer { source.close() }
            return try await source.next()
        } catch is CancellationError {
            return nil
        } catch {
            // The signals are blocked: without a reader Ctrl-C would do nothing, so read our own.
            do { return try await System.waitForSignal(signals) } catch { return nil }
        }
    }
}

/// How a command run ended, once raced against an `Interrupt`.
enum Outcome<Value: Sendable>: Sendable {
    case finished(Value)
    case interrupted(signal: Int32)
}

/// Runs `body` until it finishes or `interrupt` fires, whichever is first; the loser is cancelled.
func race<Value: Sendable>(_ body: @escaping @Sendable () async -> Value, against interrupt: Interrupt) async -> Outcome<Value> {
    await withTaskGroup(of: Outcome<Value>?.self) { group in
        group.addTask { .finished(await body()) }
        group.addTask { await interrupt.wait().map { .interrupted(signal: $0) } }
        var result: Outcome<Value>?
        while result == nil, let next = await group.next() {
            result = next
        }
        group.cancelAll()
        // The body always finishes, so the loop only leaves with a result.
        return result!
    }
}
