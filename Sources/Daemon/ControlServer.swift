#if canImport(Glibc)
import Glibc
#endif
import Control
import Logging
import Posix
import Synchronization

/// Answers a control request; `events` is handled by the server itself.
public protocol ControlResponder: Sendable {
    /// The reply line for `request` (one JSON object and a newline).
    func reply(to request: ControlRequest) async -> [UInt8]
    /// The events stream for an `events` client.
    func events() -> AsyncStream<[UInt8]>
}

/// The control socket: a Unix stream socket (mode 0660, group from the config) speaking
/// line-delimited JSON. A malformed or oversized request gets an error reply; a client
/// that stops reading is dropped; neither disturbs the daemon.
public final class ControlServer: Service {
    public let name = "control"
    private let path: String
    private let group: String
    private let maximumClients: Int
    private let responder: any ControlResponder
    private let logger: Logger
    private let onListening: @Sendable () -> Void
    private let clients = Atomic<Int>(0)
    /// How long a write to a client may wait before the client is dropped.
    static let sendTimeout = Duration.seconds(5)

    public init(path: String, group: String, maximumClients: Int, responder: any ControlResponder,
                logger: Logger, onListening: @escaping @Sendable () -> Void = {}) {
        self.path = path
        self.group = group
        self.maximumClients = maximumClients
        self.responder = responder
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        try FileSystem.createDirectory(FileSystem.parent(of: path))
        let listener = try UnixSocket(.stream)
        defer { listener.close() }
        try listener.bind(path, mode: 0o660)
        if let entry = getgrnam(group) {
            if chown(path, uid_t.max, entry.pointee.gr_gid) != 0 { logger.warning("chown \(path) to group \(group): \(Errno.current)") }
        } else {
            logger.notice("group '\(group)' does not exist; \(path) keeps the daemon's group")
        }
        try listener.listen()
        logger.info("control socket at \(path)")
        onListening()
        await withTaskGroup(of: Void.self) { group in
            while !Task.isCancelled {
                let client: UnixSocket
                do { client = try await listener.accept() } catch is CancellationError { break } catch {
                    logger.warning("accept on \(path): \(error)")
                    try? await Task.sleep(for: .milliseconds(100))
                    continue
                }
                if clients.add(1, ordering: .relaxed).newValue > maximumClients {
                    clients.subtract(1, ordering: .relaxed)
                    group.addTask { await self.refuse(client) }
                    continue
                }
                group.addTask {
                    await self.serve(client)
                    self.clients.subtract(1, ordering: .relaxed)
                }
            }
            group.cancelAll()
        }
    }

    private func refuse(_ client: UnixSocket) async {
        let line = (try? ControlProtocol.encodeLine(ControlReply<Empty>.failure("too many control clients (max \(maximumClients))"))) ?? []
        try? await client.send(line, deadline: .now + Self.sendTimeout)
        client.close()
    }

    private func serve(_ client: UnixSocket) async {
        defer { client.close() }
        var splitter = LineSplitter(limit: ControlProtocol.maximumRequestBytes)
        do {
            while !Task.isCancelled {
                let bytes = try await client.receive()
                if bytes.isEmpty { return }
                for line in splitter.push(bytes) {
                    switch line {
                    case .oversized:
                        try await send(ControlReply<Empty>.failure("request longer than \(ControlProtocol.maximumRequestBytes) bytes"), to: client)
                    case .line(let bytes) where bytes.allSatisfy({ $0 == 32 || $0 == 13 }):
                        continue
                    case .line(let bytes):
                        guard let request = try? ControlProtocol.decode(ControlRequest.self, from: bytes) else {
                            try await send(ControlReply<Empty>.failure("malformed request: expected one JSON object like {\"cmd\":\"status\"} per line"), to: client)
                            continue
                        }
                        if request.command == "events" {
                            try await send(ControlReply.success(Empty()), to: client)
                            try await stream(to: client)
                            return
                        }
                        let reply = await responder.reply(to: request)
                        try await client.send(reply, deadline: .now + Self.sendTimeout)
                    }
                }
            }
        } catch is CancellationError {
        } catch {
            logger.debug("control client: \(error)")
        }
    }

    private func send(_ reply: some Encodable, to client: UnixSocket) async throws {
        try await client.send(ControlProtocol.encodeLine(reply), deadline: .now + Self.sendTimeout)
    }

    /// Streams events until the client hangs up or stops reading.
    private func stream(to client: UnixSocket) async throws {
        let events = responder.events()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await line in events { try await client.send(line, deadline: .now + Self.sendTimeout) }
            }
            group.addTask {
                // Anything more from the client is ignored; end of stream means it hung up.
                while try await !client.receive().isEmpty {}
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
