import HAL
import Logging
import Posix
import Synchronization

/// One open control socket to hostapd: commands one at a time with deadlines, a reader that
/// separates replies from events, and a keepalive. After any loss it is thrown away and
/// the backend opens a new one, so a late reply can never be taken for another's.
final class HostapdConnection: Sendable {
    let socket: WPAControlSocket
    let device: String
    let commandTimeout: Duration
    private let logger: Logger
    private let gate = CommandGate()
    /// The reply the command in flight is waiting for.
    private let pendingReply = Mutex<OneShot<[UInt8]>?>(nil)
    /// Completed (with the reason, as an error) when the connection is found broken.
    private let lost = OneShot<Void>()
    private let brokenReason = Mutex<String?>(nil)
    /// Monotonic nanoseconds when hostapd was last heard from.
    private let lastHeard: Atomic<UInt64>

    init(socket: WPAControlSocket, device: String, commandTimeout: Duration, logger: Logger) {
        self.socket = socket
        self.device = device
        self.commandTimeout = commandTimeout
        self.logger = logger
        lastHeard = Atomic(SystemClock.monotonicNanoseconds())
    }

    /// Why the connection is unusable, or nil while it works.
    var failure: String? { brokenReason.withLock { $0 } }

    /// Sends `command` and returns hostapd's reply (events that arrive first go to the reader's
    /// handler). Waits at most `commandTimeout` in all, queueing included.
    ///
    /// A send error or a missing reply breaks the connection: hostapd is gone or stuck, and a
    /// reply arriving later would be mistaken for the next command's.
    func request(_ command: String) async throws -> String {
        if let reason = failure { throw HALError(.unavailable, device: device, reason) }
        let verb = command.split(separator: " ").first.map(String.init) ?? command
        let deadline = ContinuousClock.now + commandTimeout
        let (device, timeout) = (device, commandTimeout)
        try await gate.acquire(until: deadline) {
            HALError(.timedOut, device: device, "\(verb): still waiting for earlier commands after \(timeout)")
        }
        defer { gate.release() }
        if let reason = failure { throw HALError(.unavailable, device: device, reason) }

        let slot = OneShot<[UInt8]>()
        pendingReply.withLock { $0 = slot }
        defer { pendingReply.withLock { if $0 === slot { $0 = nil } } }
        do {
            try await socket.send(command, deadline: deadline)
        } catch let error as SystemError {
            let reason = error.errno == .timedOut ? "hostapd's socket stayed full for \(timeout)" : "hostapd is gone (\(error))"
            markBroken(reason)
            throw HALError(error.errno == .timedOut ? .timedOut : .unavailable, device: device, reason)
        }
        // Once sent, the reply is awaited even if the caller is cancelled (in a task that does
        // not inherit cancellation, still bounded by the deadline): giving up early would
        // leave a reply in flight for the next command to mistake for its own.
        let bytes: [UInt8]
        do {
            bytes = try await Task {
                try await slot.value(until: deadline) {
                    HALError(.timedOut, device: device, "no reply to \(verb) within \(timeout)")
                }
            }.value
        } catch let error as HALError {
            if error.kind == .timedOut { markBroken(error.message) }
            throw error
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Receives until the connection breaks or the task is cancelled, handing each event to
    /// `onEvent` (in arrival order, before any later reply is delivered).
    func readLoop(onEvent: (HostapdEvent) -> Void) async throws {
        while true {
            let bytes: [UInt8]
            do {
                bytes = try await socket.receive()
            } catch let error as SystemError {
                markBroken("receiving from hostapd failed (\(error))")
                throw error
            }
            lastHeard.store(SystemClock.monotonicNanoseconds(), ordering: .relaxed)
            switch HostapdDatagram(bytes) {
            case .event(_, let text):
                let event = HostapdEvent(text)
                onEvent(event)
                if event == .terminating {
                    markBroken("hostapd is terminating (CTRL-EVENT-TERMINATING)")
                    return
                }
            case .reply(let text):
                let slot = pendingReply.withLock { s in defer { s = nil }; return s }
                if let slot {
                    slot.complete(.success(bytes))
                } else {
                    logger.debug("\(device): dropped a reply no command waits for: \(HostapdReply.quoted(text))")
                }
            }
        }
    }

    /// Sends `PING` whenever hostapd has been silent for `interval`; returns when the
    /// connection breaks. (A hostapd killed with SIGKILL says nothing: only a send notices.)
    func keepalive(every interval: Duration) async throws {
        let intervalNanoseconds = UInt64(interval.components.seconds) * 1_000_000_000 + UInt64(interval.components.attoseconds / 1_000_000_000)
        while failure == nil {
            let silent = SystemClock.monotonicNanoseconds() &- lastHeard.load(ordering: .relaxed)
            if silent < intervalNanoseconds {
                try await Task.sleep(for: .nanoseconds(Int64(intervalNanoseconds - silent)))
                continue
            }
            do {
                let reply = try await request("PING")
                if !reply.hasPrefix("PONG") { markBroken("PING answered \(HostapdReply.quoted(reply))") }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // Broken already, or only queued behind a slow command: the loop decides.
                if failure == nil { try await Task.sleep(for: interval / 4) }
            }
        }
    }

    /// Returns when the connection breaks, for whoever supervises it.
    func waitUntilBroken() async throws {
        _ = try? await lost.value()
        try Task.checkCancellation()
    }

    /// Declares the connection unusable (the first reason sticks) and fails the command in flight.
    func markBroken(_ reason: String) {
        let first = brokenReason.withLock { r in
            if r != nil { return false }
            r = reason
            return true
        }
        guard first else { return }
        lost.complete(.failure(HALError(.unavailable, device: device, reason)))
        let slot = pendingReply.withLock { s in defer { s = nil }; return s }
        slot?.complete(.failure(HALError(.unavailable, device: device, reason)))
    }
}
