import Control
import Glibc
import OperatorCLI
import Posix
import Synchronization
import Testing

/// A scripted stand-in for `qlinkd`'s control socket: answers each request line as
/// `respond` says. Every wait it makes is bounded, so a broken CLI cannot hang a test.
final class FakeDaemon: Sendable {
    enum Response: Sendable {
        /// Send these lines and wait for the next request.
        case lines([String])
        /// Send these lines, then hang up.
        case linesThenClose([String])
        /// Send these lines, then keep the connection open until the client hangs up.
        case linesThenHold([String])
        /// Send these bytes as they are, then hang up.
        case raw(String)
        /// Send nothing; keep the connection open until the client hangs up.
        case silence
    }

    let path: String
    private let listener: UnixSocket
    private let acceptLoop: Task<Void, Never>
    private let state = State()
    /// How long any single wait of the fake may take.
    static let bound = Duration.seconds(10)

    init(path: String, respond: @escaping @Sendable (ControlRequest) -> Response) throws {
        let listener = try UnixSocket(.stream)
        try listener.bind(path)
        try listener.listen()
        let state = self.state
        self.path = path
        self.listener = listener
        acceptLoop = Task {
            await withTaskGroup(of: Void.self) { group in
                while let connection = try? await listener.accept() {
                    group.addTask {
                        await FakeDaemon.serve(connection, respond: respond, state: state)
                        state.hangups.withLock { $0 += 1 }
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// The `cmd` of every request received so far, in order.
    var requests: [String] { state.requests.withLock { $0 } }
    /// Connections finished (the client or the fake hung up).
    var finishedConnections: Int { state.hangups.withLock { $0 } }

    private final class State: Sendable {
        let requests = Mutex<[String]>([])
        let hangups = Mutex(0)
    }

    func stop() {
        acceptLoop.cancel()
        listener.close()
    }

    /// Waits (bounded) until `condition` holds; returns whether it did.
    func wait(until condition: @Sendable (FakeDaemon) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + FakeDaemon.bound
        while !condition(self) {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    private static func serve(_ connection: UnixSocket, respond: @Sendable (ControlRequest) -> Response, state: State) async {
        defer { connection.close() }
        var splitter = LineSplitter(limit: 65536)
        while let bytes = try? await connection.receive(deadline: .now + bound), !bytes.isEmpty {
            for case .line(let line) in splitter.push(bytes) {
                guard let request = try? ControlProtocol.decode(ControlRequest.self, from: line) else {
                    state.requests.withLock { $0.append("<garbled>") }
                    return
                }
                state.requests.withLock { $0.append(request.command) }
                switch respond(request) {
                case .lines(let lines):
                    guard (try? await send(lines, on: connection)) != nil else { return }
                case .linesThenClose(let lines):
                    _ = try? await send(lines, on: connection)
                    return
                case .linesThenHold(let lines):
                    _ = try? await send(lines, on: connection)
                    await waitForHangUp(connection)
                    return
                case .raw(let text):
                    _ = try? await connection.send(Array(text.utf8), deadline: .now + bound)
                    return
                case .silence:
                    await waitForHangUp(connection)
                    return
                }
            }
        }
    }

    private static func send(_ lines: [String], on connection: UnixSocket) async throws {
        try await connection.send(Array(lines.map { $0 + "\n" }.joined().utf8), deadline: .now + bound)
    }

    private static func waitForHangUp(_ connection: UnixSocket) async {
        while let bytes = try? await connection.receive(deadline: .now + bound), !bytes.isEmpty {}
    }
}

/// A reply line as the daemon encodes it.
func replyLine<T: Codable & Sendable>(_ result: T) throws -> String {
    String(decoding: try ControlProtocol.encodeLine(ControlReply.success(result)).dropLast(), as: UTF8.self)
}

func jsonLine(_ value: some Encodable) throws -> String {
    String(decoding: try ControlProtocol.encodeLine(value).dropLast(), as: UTF8.self)
}

/// A fresh directory under /tmp, removed (with its files) by `remove()`.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() {
        var template = Array("/tmp/qlinkctl-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String, _ text: String) throws {
        if name.contains("/") { try FileSystem.createDirectory(FileSystem.parent(of: "\(path)/\(name)")) }
        try FileSystem.writeDurably("\(path)/\(name)", Array(text.utf8))
    }

    deinit { Self.removeTree(path) }

    private static func removeTree(_ path: String) {
        if let names = try? FileSystem.listDirectory(path) {
            for name in names { removeTree("\(path)/\(name)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// What one run of `QlinkCtl.main` produced.
struct CLIRun: Sendable {
    var status: Int32
    var output: String
    var error: String
}

struct TimedOut: Error {}

/// Runs the CLI in-process with buffered sinks, failing the test if it takes more than 10 s.
func runCLI(_ arguments: [String], terminal: Bool = false, interrupt: Interrupt = .never,
            output: BufferedOutput? = nil, defaultConfig: String = "/nonexistent/qlinkd.conf") async throws -> CLIRun {
    let out = output ?? BufferedOutput(isTerminal: terminal)
    let err = BufferedOutput()
    let status = try await bounded {
        await QlinkCtl.main(arguments: arguments, output: out, error: err, interrupt: interrupt, defaultConfig: defaultConfig)
    }
    return CLIRun(status: status, output: out.text, error: err.text)
}

/// `body`'s result, or `TimedOut` after `limit` (and `body` is cancelled).
func bounded<T: Sendable>(_ limit: Duration = .seconds(10), _ body: @escaping @Sendable () async -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let first else { throw TimedOut() }
        return first
    }
}

/// An interrupt the test fires by hand, as SIGINT would.
final class ManualInterrupt: Sendable {
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
    }

    func fire(_ signal: Int32 = SIGINT) { continuation.yield(signal) }

    var interrupt: Interrupt {
        let stream = self.stream
        return Interrupt {
            for await signal in stream { return signal }
            return nil
        }
    }
}
