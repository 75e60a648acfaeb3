import HAL
import Posix
import Synchronization

/// Numbers exchanges across connections, so a reading can be told older than another.
final class OpenBTSSequence: Sendable {
    private let value = Atomic<UInt64>(0)
    init() {}
    func next() -> UInt64 { value.add(1, ordering: .relaxed).newValue }
}

/// One TCP connection to OpenBTS's CLI: framed commands one at a time, each with a deadline.
///
/// OpenBTS never speaks unprompted, so each command's reply is read right after it is sent.
/// Any failure inside an exchange (a timeout, the peer closing, a garbled frame, bytes
/// nobody asked for) breaks the connection: the socket is closed and the backend opens a
/// new one, so a late reply can never be taken for another command's.
final class OpenBTSConnection: Sendable {
    let socket: TCPSocket
    let device: String
    let commandTimeout: Duration
    private let sequence: OpenBTSSequence
    private let gate = CommandGate()
    /// Completed when the connection is found broken.
    private let lost = OneShot<Void>()
    private let brokenReason = Mutex<String?>(nil)
    private let lastReply = Mutex<ContinuousClock.Instant>(.now)

    init(socket: TCPSocket, device: String, commandTimeout: Duration, sequence: OpenBTSSequence) {
        self.socket = socket
        self.device = device
        self.commandTimeout = commandTimeout
        self.sequence = sequence
    }

    /// Why the connection is unusable, or nil while it works.
    var failure: String? { brokenReason.withLock { $0 } }

    /// When OpenBTS last answered on this connection (or when it was opened).
    var lastHeard: ContinuousClock.Instant { lastReply.withLock { $0 } }

    /// Sends `command` and returns OpenBTS's reply with the exchange's sequence number.
    /// Waits at most `commandTimeout` in all, queueing included.
    ///
    /// Throws `HALError(.rejected)` for a command OpenBTS would drop (128 bytes or more, not
    /// printable ASCII) before sending anything, `.unavailable` once broken, `.timedOut`
    /// when the reply does not come in time, `.protocolViolation` for a garbled reply.
    func request(_ command: String) async throws -> (text: String, sequence: UInt64) {
        let frame: [UInt8]
        do { frame = try OpenBTSFrame.encode(command) } catch {
            throw HALError(.rejected, device: device, "\(error)")
        }
        if let reason = failure { throw HALError(.unavailable, device: device, reason) }
        let verb = Self.verb(of: command)
        let deadline = ContinuousClock.now + commandTimeout
        let (device, timeout) = (device, commandTimeout)
        try await gate.acquire(until: deadline) {
            HALError(.timedOut, device: device, "\(verb): still waiting for earlier commands after \(timeout)")
        }
        defer { gate.release() }
        if let reason = failure { throw HALError(.unavailable, device: device, reason) }
        let number = sequence.next()
        // Once started, the exchange runs to its end even if the caller is cancelled (in a
        // task that does not inherit cancellation, bounded by the deadline): giving up half
        // way would leave a reply in flight for the next command to take as its own.
        let result = await Task { await self.exchange(frame, verb: verb, deadline: deadline) }.value
        let text = try result.get()
        lastReply.withLock { $0 = .now }
        return (text, number)
    }

    /// Returns when the connection breaks (or the task is cancelled).
    func waitUntilBroken() async throws {
        _ = try? await lost.value()
        try Task.checkCancellation()
    }

    /// Declares the connection unusable and closes the socket; the first reason sticks and
    /// is returned.
    @discardableResult
    func markBroken(_ reason: String) -> String {
        let (first, stuck) = brokenReason.withLock { r -> (Bool, String) in
            if let r { return (false, r) }
            r = reason
            return (true, reason)
        }
        if first {
            socket.close()
            lost.complete(.failure(HALError(.unavailable, device: device, reason)))
        }
        return stuck
    }

    /// `config GSM.Radio.C0 51` → `config GSM.Radio.C0`; `gprs list` → `gprs list`.
    static func verb(of command: String) -> String {
        let words = command.split(separator: " ")
        return words.prefix(words.first == "version" || words.first == "uptime" ? 1 : 2).joined(separator: " ")
    }

    // MARK: - Helpers

    private func exchange(_ frame: [UInt8], verb: String, deadline: ContinuousClock.Instant) async -> Result<String, HALError> {
        do {
            // OpenBTS speaks only when asked: anything already waiting is a stray reply or
            // the end of the stream.
            if let stray = try socket.receiveAvailable() {
                if stray.isEmpty { return fail(.unavailable, "OpenBTS closed the connection") }
                return fail(.protocolViolation, "OpenBTS sent \(stray.count) bytes nobody asked for (before \(verb))")
            }
            try await socket.send(frame, deadline: deadline)
            var decoder = OpenBTSFrameDecoder()
            while true {
                if let text = try decoder.next() {
                    if decoder.pendingByteCount > 0 {
                        return fail(.protocolViolation, "OpenBTS sent more than one reply to \(verb)")
                    }
                    return .success(text)
                }
                let bytes = try await socket.receive(deadline: deadline)
                if bytes.isEmpty { return fail(.unavailable, "OpenBTS closed the connection (waiting for the reply to \(verb))") }
                decoder.append(bytes)
            }
        } catch let error as OpenBTSProtocolError {
            return fail(.protocolViolation, "garbled reply to \(verb): \(error)")
        } catch let error as SystemError where error.errno == .timedOut {
            return fail(.timedOut, "no reply to \(verb) within \(commandTimeout)")
        } catch {
            return fail(.unavailable, "connection to OpenBTS failed during \(verb) (\(error))")
        }
    }

    private func fail(_ kind: HALError.Kind, _ reason: String) -> Result<String, HALError> {
        let stuck = markBroken(reason)
        return .failure(HALError(stuck == reason ? kind : .unavailable, device: device, stuck))
    }
}
