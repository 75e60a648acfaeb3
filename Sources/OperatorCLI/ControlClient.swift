import Control
import FoundationEssentials
import Posix

/// Why talking to `qlinkd` failed; `QlinkCtl` turns each case into a message and an exit status.
public enum ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No socket at the path, or nobody listening on it (ENOENT, ECONNREFUSED).
    case notRunning(path: String)
    /// The socket exists but this user may not connect to it (EACCES, EPERM).
    case permissionDenied(path: String)
    /// The daemon did not answer before the deadline.
    case timedOut(String)
    /// The daemon hung up before it replied.
    case connectionLost(String)
    /// The reply was not a well-formed reply line.
    case garbled(String)
    /// The daemon answered `{"ok":false,"error":…}`.
    case refused(String)
    /// The task was cancelled (an interrupt).
    case cancelled
    /// Any other system error.
    case system(String)

    public var description: String {
        switch self {
        case .notRunning(let path): "qlinkd is not running (no socket at \(path))"
        case .permissionDenied(let path): "permission denied on \(path) (is this user in the qlink group?)"
        case .timedOut(let what): "qlinkd did not answer in time (\(what))"
        case .connectionLost(let what): "qlinkd closed the connection (\(what))"
        case .garbled(let what): "garbled reply from qlinkd: \(what)"
        case .refused(let message): "qlinkd: \(message)"
        case .cancelled: "cancelled"
        case .system(let what): what
        }
    }

    /// Classifies an error thrown while talking to the socket at `path`.
    static func classify(_ error: any Error, path: String, doing what: String) -> ClientError {
        if let error = error as? ClientError { return error }
        if error is CancellationError { return .cancelled }
        guard let error = error as? SystemError else { return .system("\(what): \(error)") }
        switch error.errno {
        case .noEntry, .connectionRefused, System.notDirectory: return .notRunning(path: path)
        case .accessDenied, System.notPermitted: return .permissionDenied(path: path)
        case .timedOut: return .timedOut(what)
        case .connectionReset, .brokenPipe, .notConnected: return .connectionLost(what)
        default: return .system("\(what) \(path): \(error.errno)")
        }
    }
}

/// One connection to `qlinkd`'s control socket: request lines out, reply lines in, every
/// wait bounded by a deadline except `nextLine(deadline: nil)`, which a stream asks for.
public final class ControlClient {
    /// The longest reply line accepted (a subscriber list of a busy cell is a few kB).
    public static let maximumLineBytes = 1 << 20

    public let path: String
    private let socket: UnixSocket
    private var splitter = LineSplitter(limit: ControlClient.maximumLineBytes)
    private var pending: [LineSplitter.Line] = []
    private var ended = false
    private var closed = false

    private init(path: String, socket: UnixSocket) {
        self.path = path
        self.socket = socket
    }

    deinit { close() }

    /// Connects to the socket at `path`, giving up at `deadline`.
    public static func connect(to path: String, deadline: ContinuousClock.Instant) async throws(ClientError) -> ControlClient {
        let socket: UnixSocket
        do { socket = try UnixSocket(.stream) } catch { throw .system("socket: \(error.errno)") }
        do {
            try await socket.connect(path, deadline: deadline)
        } catch {
            socket.close()
            throw ClientError.classify(error, path: path, doing: "connecting")
        }
        return ControlClient(path: path, socket: socket)
    }

    /// Sends `request` and returns the `result` of its reply (`.null` when it carried none).
    /// An `ok:false` reply throws `.refused`; anything but a reply line throws `.garbled`.
    public func call(_ request: ControlRequest, deadline: ContinuousClock.Instant) async throws(ClientError) -> Reply {
        try await send(request, deadline: deadline)
        guard let line = try await nextLine(deadline: deadline) else {
            throw .connectionLost("no reply to '\(request.command)'")
        }
        return try Reply(line: line)
    }

    /// Sends one request line.
    public func send(_ request: ControlRequest, deadline: ContinuousClock.Instant) async throws(ClientError) {
        do {
            try await socket.send(try ControlProtocol.encodeLine(request), deadline: deadline)
        } catch {
            throw ClientError.classify(error, path: path, doing: "sending '\(request.command)'")
        }
    }

    /// The next line the daemon sends, or nil once it has closed the connection.
    /// A nil `deadline` waits for as long as it takes (cancel the task to stop).
    public func nextLine(deadline: ContinuousClock.Instant?) async throws(ClientError) -> [UInt8]? {
        while pending.isEmpty {
            if ended { return nil }
            let bytes: [UInt8]
            do {
                bytes = try await socket.receive(maxBytes: 65536, deadline: deadline)
            } catch {
                throw ClientError.classify(error, path: path, doing: "waiting for a reply")
            }
            if bytes.isEmpty {
                ended = true
                // A last line without its newline was cut off: it is not a line.
                if hasPartialLine { throw .garbled("the connection closed in the middle of a line") }
            }
            pending += splitter.push(bytes)
        }
        switch pending.removeFirst() {
        case .line(let bytes): return bytes
        case .oversized: throw .garbled("a line longer than \(Self.maximumLineBytes) bytes")
        }
    }

    /// Whether bytes of an unfinished line are buffered (probed by ending a copy of the splitter).
    private var hasPartialLine: Bool {
        var probe = splitter
        return probe.push([UInt8(ascii: "\n")]) != [.line([])]
    }

    /// Closes the connection (once; later calls do nothing).
    public func close() {
        guard !closed else { return }
        closed = true
        socket.close()
    }
}

/// A successful reply: its line as received and its `result`.
public struct Reply: Sendable {
    public let line: [UInt8]
    /// The `result` member as sent (`.null` when absent), for `--json`.
    public let result: JSONValue

    /// Parses a reply line; `ok:false` throws `.refused`, anything else malformed `.garbled`.
    public init(line: [UInt8]) throws(ClientError) {
        let reply: ControlReply<JSONValue>
        do {
            reply = try ControlProtocol.decode(ControlReply<JSONValue>.self, from: line)
        } catch {
            throw .garbled("'\(Reply.excerpt(line))' is not a reply line")
        }
        guard reply.ok else { throw .refused(reply.error ?? "request failed (no reason given)") }
        self.line = line
        self.result = reply.result ?? .null
    }

    /// The result decoded as `T`, or `.garbled` saying which field did not fit.
    public func decode<T: Decodable & Sendable>(_ type: T.Type) throws(ClientError) -> T {
        do {
            let reply = try ControlProtocol.decode(DecodedResult<T>.self, from: line)
            return reply.result
        } catch let error as DecodingError {
            throw .garbled("result is not a \(T.self): \(Reply.explain(error))")
        } catch {
            throw .garbled("result is not a \(T.self)")
        }
    }

    private struct DecodedResult<T: Decodable>: Decodable { var result: T }

    /// The start of a line, for error messages.
    static func excerpt(_ line: [UInt8], limit: Int = 80) -> String {
        let text = String(decoding: line.prefix(limit), as: UTF8.self)
        return line.count > limit ? text + "…" : text
    }

    static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing '\(key.stringValue)' at '\(path(context))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "bad value at '\(path(context))'"
        @unknown default: return "\(error)"
        }
    }
}

/// Any JSON value, kept as the daemon sent it so `--json` can print keys this version of
/// `qlinkctl` does not know yet. Whole numbers stay exact (`Int64`/`UInt64`).
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(UInt64.self) {
            self = .unsigned(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .unsigned(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// One line of JSON with sorted keys (no trailing newline).
    public var compactText: String {
        // Encoding a decoded value cannot fail; `null` is the honest fallback if it ever did.
        guard let bytes = try? ControlProtocol.encodeLine(self) else { return "null" }
        return String(decoding: bytes.dropLast(), as: UTF8.self)
    }

    /// True for `null`, `{}` and `[]`.
    public var isEmpty: Bool {
        switch self {
        case .null: true
        case .array(let items): items.isEmpty
        case .object(let members): members.isEmpty
        default: false
        }
    }
}
