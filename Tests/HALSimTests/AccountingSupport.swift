import HAL
@testable import HALSim
import Logging
import Posix
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// MD5 (RFC 1321), written here from the RFC so the tests check hal-sim's authenticators
/// without the digest hal-sim itself uses.
enum TestMD5 {
    private static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]
    /// K[i] = floor(|sin(i + 1)| · 2^32).
    private static let constants: [UInt32] = (0..<64).map { UInt32((fabs(sin(Double($0 + 1))) * 4_294_967_296).rounded(.down)) }

    static func digest(_ message: [UInt8]) -> [UInt8] {
        var state: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476]
        var padded = message + [0x80]
        while padded.count % 64 != 56 { padded.append(0) }
        let bits = UInt64(message.count) * 8
        padded += (0..<8).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt64($0))) }
        for chunk in stride(from: 0, to: padded.count, by: 64) {
            let words = (0..<16).map { i in
                (0..<4).reduce(UInt32(0)) { $0 | UInt32(padded[chunk + 4 * i + $1]) << (8 * UInt32($1)) }
            }
            var (a, b, c, d) = (state[0], state[1], state[2], state[3])
            for i in 0..<64 {
                let (f, g): (UInt32, Int) = switch i / 16 {
                case 0: ((b & c) | (~b & d), i)
                case 1: ((d & b) | (~d & c), (5 * i + 1) % 16)
                case 2: (b ^ c ^ d, (3 * i + 5) % 16)
                default: (c ^ (b | ~d), (7 * i) % 16)
                }
                let sum = f &+ a &+ constants[i] &+ words[g]
                let shift = shifts[(i / 16) * 4 + i % 4]
                (a, d, c) = (d, c, b)
                b = b &+ (sum << shift | sum >> (32 - shift))
            }
            state[0] &+= a
            state[1] &+= b
            state[2] &+= c
            state[3] &+= d
        }
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) } }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// An Accounting-Request as the test's server reads it (RFC 2865 §3, §5), independently of hal-sim.
struct ReceivedRequest: Sendable {
    let bytes: [UInt8]
    let attributes: [(type: UInt8, value: [UInt8])]

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 20, bytes[0] == 4 else { return nil }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard length == bytes.count else { return nil }
        var attributes: [(UInt8, [UInt8])] = []
        var offset = 20
        while offset + 2 <= length {
            let size = Int(bytes[offset + 1])
            guard size >= 2, offset + size <= length else { return nil }
            attributes.append((bytes[offset], Array(bytes[(offset + 2)..<(offset + size)])))
            offset += size
        }
        guard offset == length else { return nil }
        self.bytes = bytes
        self.attributes = attributes
    }

    var identifier: UInt8 { bytes[1] }
    var authenticator: [UInt8] { Array(bytes[4..<20]) }

    /// RFC 2866 §3: MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret).
    func hasValidAuthenticator(secret: String) -> Bool {
        TestMD5.digest(Array(bytes[..<4]) + [UInt8](repeating: 0, count: 16) + Array(bytes[20...]) + Array(secret.utf8)) == authenticator
    }

    func values(_ type: UInt8) -> [[UInt8]] { attributes.filter { $0.type == type }.map(\.value) }
    func text(_ type: UInt8) -> String? { values(type).first.map { String(decoding: $0, as: UTF8.self) } }
    func integer(_ type: UInt8) -> UInt32? {
        guard let value = values(type).first, value.count == 4 else { return nil }
        return value.reduce(0) { $0 << 8 | UInt32($1) }
    }

    var status: UInt32? { integer(40) }
    /// Everything but Acct-Delay-Time (41), which a retransmission updates.
    var content: [[UInt8]] { attributes.filter { $0.type != 41 }.map { [$0.type] + $0.value } }

    /// Octets plus gigawords << 32.
    var inputBytes: UInt64? { integer(42).map { UInt64(integer(52) ?? 0) << 32 | UInt64($0) } }
    var outputBytes: UInt64? { integer(43).map { UInt64(integer(53) ?? 0) << 32 | UInt64($0) } }

    /// The Accounting-Response to it (RFC 2866 §3): MD5(Code + Identifier + Length + Request
    /// Authenticator + Attributes + Secret).
    func response(secret: String) -> [UInt8] {
        let header: [UInt8] = [5, identifier, 0, 20]
        return header + TestMD5.digest(header + authenticator + Array(secret.utf8))
    }
}

/// A UDP server on 127.0.0.1 that plays qlinkd's RADIUS accounting listener: it records every
/// request and answers as `policy` says (by the request's arrival number, from 0).
final class FakeAccountingServer: Sendable {
    enum Answer: Sendable { case answer, ignore, badAuthenticator }

    let secret: String
    let endpoint: IPv4Endpoint
    private let socket: UDPSocket
    private let received = Mutex<[ReceivedRequest]>([])
    private let policy: @Sendable (Int, ReceivedRequest) -> Answer
    private let runner = Mutex<Task<Void, Never>?>(nil)

    init(secret: String = "s3cret-\(UInt32.random(in: 0...UInt32.max))",
         policy: @escaping @Sendable (Int, ReceivedRequest) -> Answer = { _, _ in .answer }) throws {
        self.secret = secret
        self.policy = policy
        socket = try UDPSocket(bindingTo: IPv4Endpoint(host: "127.0.0.1", port: 0))
        endpoint = IPv4Endpoint(host: "127.0.0.1", port: socket.localPort!)
        let task = Task { [self] in await serve() }
        runner.withLock { $0 = task }
    }

    var requests: [ReceivedRequest] { received.withLock { $0 } }

    private func serve() async {
        while !Task.isCancelled {
            guard let (bytes, sender) = try? await socket.receive(maxBytes: 4096) else { return }
            guard let request = ReceivedRequest(bytes) else {
                Issue.record("malformed request of \(bytes.count) bytes")
                continue
            }
            let index = received.withLock { r -> Int in
                r.append(request)
                return r.count - 1
            }
            switch policy(index, request) {
            case .answer: try? socket.send(request.response(secret: secret), to: sender)
            case .ignore: break
            case .badAuthenticator: try? socket.send(request.response(secret: secret + "-wrong"), to: sender)
            }
        }
    }

    /// Waits (real time) until `condition` holds for the requests so far.
    func wait(seconds: Double = 60, until condition: ([ReceivedRequest]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition(requests) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(requests)
    }

    func stop() {
        runner.withLock { $0?.cancel() }
        socket.close()
    }
}

/// Collects the accounting a world records.
final class AccountingRecorder: Sendable {
    private let storage = Mutex<[AccountingEvent]>([])
    var events: [AccountingEvent] { storage.withLock { $0 } }
    func record(_ events: [AccountingEvent]) { storage.withLock { $0 += events } }
    func clear() { storage.withLock { $0.removeAll() } }
    var stops: [AccountingEvent] { events.filter { $0.status == .stop } }
}

extension RADIUSAccountingClient {
    /// A client for tests, aimed at `server`.
    static func forTest(_ server: FakeAccountingServer, retransmitInterval: Duration = .seconds(3),
                        log: InMemoryLogHandler = InMemoryLogHandler()) throws -> RADIUSAccountingClient {
        try RADIUSAccountingClient(server: server.endpoint, secret: server.secret,
                                   nas: AccountingNAS(identifier: "sim-bs1", bssid: MACAddress("02:51:00:00:00:01")!, ssid: "Qlink-sim"),
                                   retransmitInterval: retransmitInterval, logger: Logger(label: "radius", handler: log))
    }

    /// Waits (real time) until `condition` holds for the statistics.
    func wait(seconds: Double = 60, until condition: (Statistics) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition(statistics) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(statistics)
    }
}
