import Logging
import Posix
import Synchronization

/// Emulates OpenBTS 5's CLI endpoint (CLI/CLIServer.cpp): TCP on 127.0.0.1, each message
/// either way a 4-byte big-endian length and that many bytes of ASCII text (no NUL), many
/// commands per connection, one reply frame per command.
///
/// As OpenBTS does: a zero length closes the connection; a command of 128 bytes or more is
/// read and dropped without a reply (the sign bug REFERENCE.md describes). Beyond OpenBTS: a
/// length above 64 KiB (which would overflow OpenBTS's buffer) closes the connection.
///
/// The port is chosen at the first start (port 0) and kept: after an injected radio restart
/// the CLI listens on the same port again. The world decides what happens; this server
/// follows its `.stopped` / `.started` events.
public final class OpenBTSServer: Sendable {
    public static let droppedLength = 128
    public static let maximumLength = 65_536

    struct State: Sendable {
        var listener: TCPSocket?
        var connections: [Int: TCPSocket] = [:]
        var nextConnection = 0
        var port: UInt16 = 0
        /// Bumped on every stop, so that loops of an older listener know to end.
        var generation = 0
    }

    public let host = "127.0.0.1"
    private let world: World
    private let logger: Logger
    private let state = Mutex(State())

    public init(world: World, logger: Logger) {
        self.world = world
        self.logger = logger
    }

    /// The TCP port (0 before the first start).
    public var port: UInt16 { state.withLock { $0.port } }

    /// Listens (on a free port the first time, on the same port afterwards) and serves.
    public func start() throws(SystemError) {
        let wanted = state.withLock { $0.port }
        let listener = try TCPSocket.listen(host: host, port: wanted)
        let generation = state.withLock { s -> Int in
            s.listener = listener
            if s.port == 0 { s.port = listener.localPort ?? 0 }
            return s.generation
        }
        Task { await self.acceptLoop(listener, generation: generation) }
        logger.info("OpenBTS CLI listening on \(host):\(port)")
    }

    /// Closes the listener and every connection.
    public func stop() {
        let (listener, connections) = state.withLock { s -> (TCPSocket?, [TCPSocket]) in
            s.generation += 1
            defer { s.listener = nil; s.connections = [:] }
            return (s.listener, Array(s.connections.values))
        }
        listener?.close()
        for connection in connections { connection.close() }
        if listener != nil { logger.info("OpenBTS CLI closed (\(connections.count) connections dropped)") }
    }

    /// The world's radio sink.
    public func deliver(_ events: [RadioEvent]) {
        for event in events {
            switch event {
            case .stopped: stop()
            case .started: restart()
            }
        }
    }

    /// Listens again on the same port, retrying once a second for a while if it is taken.
    private func restart() {
        do { return try start() } catch { logger.warning("OpenBTS CLI cannot listen on \(host):\(port) yet: \(error)") }
        let generation = state.withLock { $0.generation }
        Task {
            for _ in 0..<30 {
                try? await Task.sleep(for: .seconds(1))
                guard state.withLock({ $0.generation == generation && $0.listener == nil }) else { return }
                if (try? start()) != nil { return }
            }
            logger.error("OpenBTS CLI did not come back on \(host):\(port)")
        }
    }

    private func acceptLoop(_ listener: TCPSocket, generation: Int) async {
        while let connection = try? await listener.accept() {
            let id = state.withLock { s -> Int? in
                guard s.generation == generation else { return nil }
                s.nextConnection += 1
                s.connections[s.nextConnection] = connection
                return s.nextConnection
            }
            guard let id else { connection.close(); return }
            Task { await self.serve(connection, id: id) }
        }
    }

    private func serve(_ connection: TCPSocket, id: Int) async {
        defer {
            connection.close()
            state.withLock { _ = $0.connections.removeValue(forKey: id) }
        }
        var buffer: [UInt8] = []
        while true {
            guard await fill(&buffer, to: 4, from: connection) else { return }
            let length = buffer.prefix(4).reduce(0) { $0 << 8 | Int($1) }
            if length == 0 { return }
            if length > Self.maximumLength {
                logger.warning("OpenBTS CLI: a \(length)-byte frame: closing the connection")
                return
            }
            guard await fill(&buffer, to: 4 + length, from: connection) else { return }
            let body = Array(buffer[4..<(4 + length)])
            buffer.removeFirst(4 + length)
            if length >= Self.droppedLength {
                logger.debug("OpenBTS CLI: dropped a \(length)-byte command (OpenBTS ignores commands of 128 bytes or more)")
                continue
            }
            let reply = Array(world.openBTS(String(decoding: body, as: UTF8.self), wallSeconds: SystemClock.wallMilliseconds() / 1000).utf8)
            let count = UInt32(reply.count)
            let frame = [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)] + reply
            do { try await connection.send(frame, deadline: .now + .seconds(10)) } catch { return }
        }
    }

    /// Reads until `buffer` holds `count` bytes; false when the peer closed or the socket failed.
    private func fill(_ buffer: inout [UInt8], to count: Int, from connection: TCPSocket) async -> Bool {
        while buffer.count < count {
            guard let bytes = try? await connection.receive(), !bytes.isEmpty else { return false }
            buffer += bytes
        }
        return true
    }
}
