import CLinux
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The few C calls `qlinkctl` makes itself; the only file of this module that touches C.
public enum System {
    /// The signals that stop `qlinkctl`: Ctrl-C and `kill`, less any the parent set to be
    /// ignored (a background job of a non-interactive shell ignores SIGINT, and should go on doing so).
    public static var stopSignals: [Int32] { stopSignalsInUse.withLock { $0 } }
    private static let stopSignalsInUse = Mutex<[Int32]>([SIGINT, SIGTERM])

    /// Runs `body` as the whole program and exits with the status it returns. Call it first
    /// thing in `main`, while the process has one thread:
    ///
    /// - works out `stopSignals` and blocks them (through `AsyncMain`, which also keeps the main
    ///   thread parked with them blocked), so they queue for a signalfd (see `Interrupt.signals`);
    /// - ignores SIGPIPE, so a closed pipe on standard output surfaces as EPIPE instead of a kill.
    public static func runProgram(_ body: @escaping @Sendable () async -> Int32) -> Never {
        let signals = [SIGINT, SIGTERM].filter { !isIgnored($0) }
        stopSignalsInUse.withLock { $0 = signals }
        signal(SIGPIPE, SIG_IGN)
        AsyncMain.run(blocking: signals, body)
    }

    private static func isIgnored(_ signal: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(signal, nil, &current) == 0 else { return false }
        return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    /// errno values the Posix module does not name.
    static let notDirectory = Errno(rawValue: ENOTDIR)
    static let notPermitted = Errno(rawValue: EPERM)

    static func isTerminal(_ descriptor: Int32) -> Bool {
        isatty(descriptor) == 1
    }

    /// The local time zone's offset from UTC, in seconds, at `milliseconds` since the epoch.
    public static func utcOffsetSeconds(atMilliseconds milliseconds: Int64) -> Int {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return 0 }
        return Int(parts.tm_gmtoff)
    }
}

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

    /// Fires on SIGINT or SIGTERM. `System.runProgram` must have blocked them first.
    public static let signals = Interrupt {
        let signals = System.stopSignals
        do {
            let source = try SignalSource(signals)
            defer { source.close() }
            return try await source.next()
        } catch {
            return nil
        }
    }
}

/// How a command run ended, once raced against an `Interrupt`.
enum Outcome<Value: Sendable>: Sendable {
    case finished(Value)
    case interrupted(signal: Int32)
}

/// Runs `body` until it finishes or `interrupt` fires, whichever is first, and cancels the other.
///
/// Returns at once on an interrupt, without waiting for `body` to wind down: a command stuck
/// in a blocking write to a stalled pipe must not keep Ctrl-C from ending `qlinkctl`.
func race<Value: Sendable>(_ body: @escaping @Sendable () async -> Value, against interrupt: Interrupt) async -> Outcome<Value> {
    let first = FirstOutcome<Value>()
    return await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            first.start(continuation, racing: [
                Task { first.resolve(.finished(await body())) },
                Task { if let signal = await interrupt.wait() { first.resolve(.interrupted(signal: signal)) } },
            ])
        }
    } onCancel: {
        first.cancelRacers()
    }
}

/// The first outcome of a race, delivered once; the racers are cancelled when it arrives.
private final class FirstOutcome<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Outcome<Value>, Never>?
        var racers: [Task<Void, Never>] = []
        var early: Outcome<Value>?
        var resolved = false
        var cancelled = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<Outcome<Value>, Never>, racing racers: [Task<Void, Never>]) {
        let (early, cancel) = state.withLock { s in
            s.racers = racers
            if s.early == nil { s.continuation = continuation }
            return (s.early, s.early != nil || s.cancelled)
        }
        if cancel { racers.forEach { $0.cancel() } }
        if let early { continuation.resume(returning: early) }
    }

    func resolve(_ outcome: Outcome<Value>) {
        let (continuation, racers) = state.withLock { s -> (CheckedContinuation<Outcome<Value>, Never>?, [Task<Void, Never>]) in
            guard !s.resolved else { return (nil, []) }
            s.resolved = true
            guard let continuation = s.continuation else {
                s.early = outcome  // before `start`: it delivers and cancels
                return (nil, [])
            }
            s.continuation = nil
            return (continuation, s.racers)
        }
        racers.forEach { $0.cancel() }
        continuation?.resume(returning: outcome)
    }

    /// The caller was cancelled: cancel both racers; the body then finishes promptly.
    func cancelRacers() {
        let racers = state.withLock { s in
            s.cancelled = true
            return s.racers
        }
        racers.forEach { $0.cancel() }
    }
}
