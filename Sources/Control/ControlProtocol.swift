import FoundationEssentials

/// The control protocol between `qlinkd` and `qlinkctl`: one JSON object per line over a
/// Unix stream socket. A client sends `ControlRequest`s; for each the daemon answers one
/// `ControlReply` line. After `events` the daemon goes on sending one `EventReport` line
/// per event until the client hangs up.
public enum ControlProtocol {
    /// A request line longer than this is refused (and the rest of it discarded).
    public static let maximumRequestBytes = 64 * 1024

    public static func encodeLine(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = Array(try encoder.encode(value))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    public static func decode<T: Decodable>(_ type: T.Type, from line: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(line))
    }
}

/// One command to the daemon.
public struct ControlRequest: Codable, Sendable, Equatable {
    public var command: String
    public var arguments: [String: String]

    public init(_ command: String, _ arguments: [String: String] = [:]) {
        self.command = command
        self.arguments = arguments
    }

    enum CodingKeys: String, CodingKey { case command = "cmd", arguments = "args" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        command = try container.decode(String.self, forKey: .command)
        arguments = try container.decodeIfPresent([String: String].self, forKey: .arguments) ?? [:]
    }
}

/// The daemon's answer: `{"ok":true,"result":…}` or `{"ok":false,"error":"…"}`.
public struct ControlReply<Result: Codable & Sendable>: Codable, Sendable {
    public var ok: Bool
    public var result: Result?
    public var error: String?

    public static func success(_ result: Result) -> ControlReply { ControlReply(ok: true, result: result, error: nil) }
    public static func failure(_ message: String) -> ControlReply { ControlReply(ok: false, result: nil, error: message) }
}

/// A reply that carries no result.
public struct Empty: Codable, Sendable, Equatable {
    public init() {}
}

/// Splits a byte stream into lines, refusing lines longer than a limit.
public struct LineSplitter: Sendable {
    public enum Line: Equatable, Sendable {
        case line([UInt8])
        /// A line exceeded the limit; its bytes up to the next newline are dropped.
        case oversized
    }

    public let limit: Int
    private var buffer: [UInt8] = []
    private var discarding = false

    public init(limit: Int) { self.limit = limit }

    /// Adds received bytes and returns the lines they complete.
    public mutating func push(_ bytes: some Collection<UInt8>) -> [Line] {
        var lines: [Line] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if discarding { discarding = false } else { lines.append(.line(buffer)) }
                buffer.removeAll(keepingCapacity: true)
            } else if !discarding {
                buffer.append(byte)
                if buffer.count > limit {
                    buffer.removeAll()
                    discarding = true
                    lines.append(.oversized)
                }
            }
        }
        return lines
    }
}
