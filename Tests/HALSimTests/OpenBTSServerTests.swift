import HAL
@testable import HALSim
import Logging
import Posix
import Synchronization
import Testing

/// A minimal OpenBTS CLI client: 4-byte big-endian length, then the text, both ways.
final class CLIClient: Sendable {
    let socket: TCPSocket
    private let pending = Mutex<[UInt8]>([])

    init(port: UInt16) async throws {
        socket = try await TCPSocket.connect(host: "127.0.0.1", port: port, deadline: .now + .seconds(30))
    }

    deinit { socket.close() }

    static func frame(_ bytes: [UInt8]) -> [UInt8] {
        let n = UInt32(bytes.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    func send(_ command: String) async throws {
        try await socket.send(Self.frame(Array(command.utf8)), deadline: .now + .seconds(30))
    }

    /// Reads exactly `count` bytes (throws at the deadline or when the server closes).
    func read(_ count: Int, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        while pending.withLock({ $0.count }) < count {
            let bytes = try await socket.receive(deadline: deadline)
            if bytes.isEmpty { throw SystemError(.connectionReset, "closed by the server") }
            pending.withLock { $0 += bytes }
        }
        return pending.withLock { p in defer { p.removeFirst(count) }; return Array(p.prefix(count)) }
    }

    func reply(within timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        let header = try await read(4, deadline: deadline)
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        return String(decoding: try await read(length, deadline: deadline), as: UTF8.self)
    }

    func request(_ command: String) async throws -> String {
        try await send(command)
        return try await reply()
    }

    /// Whether the server closes the connection within `timeout`.
    func isClosed(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            do {
                let bytes = try await socket.receive(deadline: deadline)
                if bytes.isEmpty { return true }
            } catch let error as SystemError where error.errno == .timedOut {
                return false
            } catch {
                return true
            }
        }
        return false
    }
}

/// Sums `gprs list`'s MS records per IMSI, as a client must: each ` MS#…` line's
/// `Bytes:<up>up/<down>down`, attributed by the `GMM Context: imsi=` line that follows it.
func gprsTotals(_ reply: String) -> (totals: [String: (up: UInt64, down: UInt64)], records: [String: Int]) {
    var totals: [String: (up: UInt64, down: UInt64)] = [:], records: [String: Int] = [:]
    var bytes: (UInt64, UInt64)?
    for line in reply.split(separator: "\n") {
        if line.hasPrefix(" MS#"), let field = line.split(separator: " ").first(where: { $0.hasPrefix("Bytes:") }) {
            let parts = field.dropFirst(6).split(separator: "/")
            bytes = (UInt64(parts[0].dropLast(2))!, UInt64(parts[1].dropLast(4))!)
        } else if line.hasPrefix("\t GMM Context:"), let (up, down) = bytes,
                  let imsi = line.split(separator: " ").first(where: { $0.hasPrefix("imsi=") })?.dropFirst(5) {
            totals[String(imsi), default: (0, 0)].up += up
            totals[String(imsi), default: (0, 0)].down += down
            records[String(imsi), default: 0] += 1
            bytes = nil
        }
    }
    return (totals, records)
}

@Suite struct OpenBTSServerTests {
    /// A world of `ues` long-lived UEs (and one Wi-Fi station) on a manual clock, its OpenBTS endpoint.
    final class Harness: Sendable {
        let world: World
        let server: OpenBTSServer

        init(ues: Int = 4, seed: UInt64 = 3) throws {
            world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: 1, ues: ues, reconnect: 20), seed: seed, speed: 1))
            server = OpenBTSServer(world: world, logger: Logger(label: "test", handler: InMemoryLogHandler()))
            let server = server
            world.setRadioSink { server.deliver($0) }
            try server.start()
            world.advance(by: .seconds(10))
        }

        deinit { server.stop() }

        func client() async throws -> CLIClient { try await CLIClient(port: server.port) }
    }

    @Test func framingManyCommandsPerConnectionAndTheDroppedLongCommand() async throws {
        let h = try Harness()
        defer { withExtendedLifetime(h) {} }
        #expect(h.server.port != 0)
        let c = try await h.client()
        #expect(try await c.request("version") == OpenBTSFormats.version + "\n")
        #expect(try await c.request("version").hasPrefix("release 5.0-master+"))
        // The raw reply: a 4-byte big-endian length, then exactly that text, no NUL.
        try await c.send("foo")
        let raw = try await c.read(4 + 18, deadline: .now + .seconds(30))
        #expect(raw == [0, 0, 0, 18] + Array("command not found\n".utf8))
        #expect(try await c.request("version 2") == "-- print the version string.\nwrong number of arguments\n")
        #expect(try await c.request("version\n") == "command not found\n", "OpenBTS does not trim")
        // 127 bytes are answered; 128 and more are read and dropped without a reply.
        let key127 = "config " + String(repeating: "x", count: 120)
        #expect(try await c.request(key127).hasSuffix(" - no keys matched, developer/factory keys can be accessed with \"devconfig\".\n"))
        try await c.send("config " + String(repeating: "x", count: 121))
        try await c.send(String(repeating: "v", count: 300))
        #expect(try await c.request("power").hasPrefix("current downlink power"), "the dropped commands got no reply, the next one does")
        // A second client at the same time.
        let d = try await h.client()
        #expect(try await d.request("uptime").contains("uptime 10 seconds, frame 0:"))
        // A zero length closes the connection.
        try await c.socket.send([0, 0, 0, 0])
        #expect(await c.isClosed(within: .seconds(30)))
        #expect(try await d.request("version").hasPrefix("release"))
    }

    @Test func gprsListHasTwoMSRecordsForSomeUEsThatSumToTheTruth() async throws {
        let h = try Harness(ues: 12)
        defer { withExtendedLifetime(h) {} }
        h.world.advance(90, of: .seconds(1))   // every second-record switch (5–60 s) has happened
        h.world.pause()
        let reply = try await h.client().request("gprs list")
        let (totals, records) = gprsTotals(reply)
        let truth = h.world.truth().filter { $0.id.kind == "lte" }
        #expect(truth.count == 12 && totals.count == 12)
        for entry in truth {
            let imsi = String(entry.id.description.dropFirst(5))
            #expect(totals[imsi]?.up == entry.upBytes && totals[imsi]?.down == entry.downBytes, "\(imsi): \(reply)")
            #expect(entry.upBytes > 0 && entry.downBytes > entry.upBytes)
        }
        #expect(records.values.contains(2), "some UEs have two MS records")
        #expect(records.values.contains(1))
        // The GMM context and MS record formats.
        let ue = try #require(h.world.ues().first { $0.records.count == 2 })
        let first = ue.records[0], second = ue.records[1]
        #expect(reply.contains(" MS#\(first.debugID),TLLI=\(String(first.tlli, radix: 16)) rrmode=PacketIdle Bytes:\(first.upBytes)up/\(first.downBytes)down Utilization=0%\n"))
        #expect(reply.contains(" MS#\(second.debugID),TLLI=\(String(ue.tlli, radix: 16)),\(String(first.tlli, radix: 16)) rrmode=PacketIdle"))
        #expect(reply.contains("\t GMM Context: imsi=\(ue.imsi) ptmsi=0x\(String(ue.ptmsi, radix: 16)) tlli=0x\(String(ue.tlli, radix: 16)) state=GmmRegisteredNormal age=100 idle="))
        #expect(reply.contains(" IPs=192.168.99."))
        #expect(reply.hasSuffix(" PDCH ARFCN=51 TN=1 FER=0%\n PDCH ARFCN=51 TN=2 FER=0%\n"))
    }

    @Test func configAndPowerReplies() async throws {
        let h = try Harness()
        defer { withExtendedLifetime(h) {} }
        let c = try await h.client()
        #expect(try await c.request("power 10") == "current downlink power -10 dB wrt full scale\n")
        #expect(try await c.request("power") == "current downlink power -10 dB wrt full scale\n")
        #expect(try await c.request("power 0") == "current downlink power 0 dB wrt full scale\n")
        #expect(try await c.request("power 81") == "Invalid new value for atten.  It must be in range (0:80)\nbad argument(s)\n")
        #expect(try await c.request("power -1") == "power value(s) are attenuation and must not be negative\nbad argument(s)\n")
        #expect(try await c.request("config GSM.Radio.C0 60")
            == "GSM.Radio.C0 changed from \"51\" to \"60\"\nGSM.Radio.C0 is static; change takes effect on restart\n")
        #expect(try await c.request("config GSM.Radio.C0 60")
            == "GSM.Radio.C0 is already set to \"60\", nothing changed\nGSM.Radio.C0 is static; change takes effect on restart\n")
        #expect(try await c.request("config GSM.Radio.C0 151").hasPrefix("GSM.Radio.C0 new value \"151\" is invalid, change failed.\n"))
        #expect(try await c.request("config GSM.Radio.Band 850") == "GSM.Radio.Band changed from \"900\" to \"850\"\n"
            + "WARNING: GSM.Radio.C0 (60) falls outside the valid range of ARFCNs 128-251 for GSM.Radio.Band (850)\n"
            + "GSM.Radio.Band is static; change takes effect on restart\n")
        #expect(try await c.request("config GSM.Radio.C0 151").hasPrefix("GSM.Radio.C0 changed from \"60\" to \"151\"\n"))
        #expect(try await c.request("config GSM.Identity.MCC 262") == "GSM.Identity.MCC changed from \"001\" to \"262\"\n")
        #expect(try await c.request("config GSM.Identity.MNC 1") == "GSM.Identity.MNC new value \"1\" is invalid, change failed.\n")
        #expect(try await c.request("config GSM.Identity.LAC 65281") == "GSM.Identity.LAC new value \"65281\" is invalid, change failed.\n")
        #expect(try await c.request("config GSM.Identity.CI 7") == "GSM.Identity.CI changed from \"10\" to \"7\"\n")
        #expect(try await c.request("config GSM.Radio.PowerManager.MaxAttenDB 20")
            == "GSM.Radio.PowerManager.MaxAttenDB changed from \"0\" to \"20\"\n")
        #expect(try await c.request("config GSM.Identity.CI").hasPrefix("GSM.Identity.CI 7\n - description:"))
        #expect(try await c.request("config GSM.Identity.LAC").hasPrefix("GSM.Identity.LAC 1000     [default]\n"))
        #expect(try await c.request("config Nope.Key 1").hasPrefix("Nope.Key is not a valid key, change failed."))
        #expect(try await c.request("config Control.LUR.OpenRegistration ^00101")
            == "Control.LUR.OpenRegistration changed from \".*\" to \"^00101\"\n")
        #expect(try await c.request("config Control.LUR.OpenRegistration ^(?!1)")
            == "Control.LUR.OpenRegistration new value \"^(?!1)\" is invalid, change failed.\n")
        #expect(try await c.request("unconfig Control.LUR.OpenRegistration.Reject") == "Control.LUR.OpenRegistration.Reject disabled\n")
        #expect(try await c.request("unconfig GSM.Radio.C0") == "GSM.Radio.C0 is not disableable\nbad argument(s)\n")
        #expect(try await c.request("config Identity").split(separator: "\n").count == 4)
    }
}
