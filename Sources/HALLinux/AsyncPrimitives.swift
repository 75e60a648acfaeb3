import Synchronization

/// A value delivered once, to one waiter: the first `complete` wins, later ones are ignored.
/// Cancelling the waiting task completes it with `CancellationError`.
final class OneShot<Value: Sendable>: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Value, any Error>)
        case done(Result<Value, any Error>)
        case consumed
    }

    private let state = Mutex(State.idle)

    init() {}

    /// Delivers `result`; returns false if something was already delivered.
    @discardableResult
    func complete(_ result: Result<Value, any Error>) -> Bool {
        let (accepted, waiter): (Bool, CheckedContinuation<Value, any Error>?) = state.withLock { s in
            switch s {
            case .idle: s = .done(result); return (true, nil)
            case .waiting(let c): s = .consumed; return (true, c)
            case .done, .consumed: return (false, nil)
            }
        }
        waiter?.resume(with: result)
        return accepted
    }

    var isCompleted: Bool {
        state.withLock { if case .idle = $0 { false } else if case .waiting = $0 { false } else { true } }
    }

    /// Waits for the value (only one task may wait).
    func value() async throws -> Value {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Value, any Error>) in
                let ready: Result<Value, any Error>? = state.withLock { s in
                    switch s {
                    case .idle: s = .waiting(c); return nil
                    case .done(let result): s = .consumed; return result
                    case .waiting, .consumed: return .failure(CancellationError())
                    }
                }
                if let ready { c.resume(with: ready) }
            }
        } onCancel: {
            complete(.failure(CancellationError()))
        }
    }

    /// Waits for the value until `deadline`, then fails with `onTimeout()`.
    func value(until deadline: ContinuousClock.Instant, onTimeout: @escaping @Sendable () -> any Error) async throws -> Value {
        let timer = Task { [self] in
            try await Task.sleep(until: deadline)
            complete(.failure(onTimeout()))
        }
        defer { timer.cancel() }
        return try await value()
    }
}

/// Lets one command at a time talk to hostapd; the others queue in order, each giving up
/// at its own deadline.
final class CommandGate: Sendable {
    private struct State {
        var busy = false
        var queue: [OneShot<Void>] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Waits for the turn; throws `onTimeout()` at `deadline`, or `CancellationError`.
    func acquire(until deadline: ContinuousClock.Instant, onTimeout: @escaping @Sendable () -> any Error) async throws {
        let ticket: OneShot<Void>? = state.withLock { s in
            if !s.busy { s.busy = true; return nil }
            let ticket = OneShot<Void>()
            s.queue.append(ticket)
            return ticket
        }
        guard let ticket else { return }
        do {
            try await ticket.value(until: deadline, onTimeout: onTimeout)
        } catch {
            // The ticket failed first, so `release` cannot have handed it the turn (its
            // `complete` lost and it moved on); just leave the queue.
            state.withLock { s in s.queue.removeAll { $0 === ticket } }
            throw error
        }
    }

    /// Ends the turn and gives it to the next in line.
    func release() {
        while true {
            let next: OneShot<Void>? = state.withLock { s in
                if s.queue.isEmpty { s.busy = false; return nil }
                return s.queue.removeFirst()
            }
            guard let next else { return }
            if next.complete(.success(())) { return }
            // That waiter had already given up (timeout or cancellation): try the next one.
        }
    }
}
