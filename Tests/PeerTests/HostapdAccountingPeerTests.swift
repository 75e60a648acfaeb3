import Foundation
import HAL
import HALLinux
import Logging
import Posix
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `RADIUSAccountingServer` (in this test process, on 127.0.0.1) as the accounting server of
/// the real hostapd 2.10 (`driver=wired`, 802.1X with EAP-MD5), with wpa_supplicant as the
/// station.
///
/// hostapd runs in the root network namespace, so its `acct_server_addr=127.0.0.1` is this
/// process's loopback; it serves one end of a veth pair whose other end is in a namespace
/// the test makes, where wpa_supplicant runs. Interface and namespace names are unique per
/// run, and everything is removed afterwards, pass or fail.
///
/// What is verified, on both sides:
/// - the server's side (its debug log): hostapd's Accounting-On, Start, Interim-Update and
///   Stop arrive, carry the shared secret's Request Authenticator (or the server would drop
///   them with a warning), and the Stop names the station by Calling-Station-Id; with
///   driver=wired the Stop has no octets, so no `.finalCounters` is reported and nothing is
///   logged as an error.
/// - hostapd's side (its RADIUS MIB, `hostapd_cli mib`, and its `-d` log): every request got a
///   response that hostapd matched and whose Response Authenticator it accepted
///   (`radiusAccClientResponses` = `Requests`, `BadAuthenticators` 0, nothing pending, no
///   retransmission; no `Response Authenticator invalid!` in its log).
/// - hostapd's own retransmission (a relay drops the server's first answer to the Stop):
///   hostapd resends the Stop with a new Identifier and an updated Acct-Delay-Time; the
///   server answers it and hostapd accepts that answer, and the server handles the Stop once.
@Suite("RADIUSAccountingServer against real hostapd", .serialized)
struct HostapdAccountingPeerTests {
    static let apMAC = "02:00:00:52:0a:01"
    static let stationMAC = MACAddress("02:00:00:52:0b:01")!

    /// hostapd (root namespace) + wpa_supplicant (its own namespace) on a fresh veth pair.
    final class World: @unchecked Sendable {
        let cleanup = Cleanup()
        let ip: String, hostapd: String, hostapdCLI: String, wpaSupplicant: String, wpaCLI: String
        let suffix = String(UInt32.random(in: 0x1000_0000...0xFFFF_FFFF), radix: 16).prefix(7)
        var namespace: String { "qlt-acct-\(suffix)" }
        /// At most 15 characters (IFNAMSIZ - 1).
        var apInterface: String { "qra\(suffix)" }
        var stationInterface: String { "qrs\(suffix)" }
        let directory: String
        var ctrlDirectory: String { directory + "/ctrl" }
        var stationCtrlDirectory: String { directory + "/wpa" }
        let secret = "qlt-\(UInt64.random(in: 0...UInt64.max))"
        private(set) var ap: PeerProcess?
        private(set) var station: PeerProcess?

        init() throws {
            ip = try PeerTool.require("ip", package: "iproute2")
            hostapd = try PeerTool.require("hostapd", package: "hostapd")
            hostapdCLI = try PeerTool.require("hostapd_cli", package: "hostapd")
            wpaSupplicant = try PeerTool.require("wpa_supplicant", package: "wpasupplicant")
            wpaCLI = try PeerTool.require("wpa_cli", package: "wpasupplicant")
            directory = try makeTemporaryDirectory("qlt-acct", cleanup: cleanup)
            // The caller's `defer` has no World to clean up if this throws: undo here.
            do { try makeNetwork() } catch {
                cleanup.run()
                throw error
            }
        }

        private func makeNetwork() throws {
            try runCommand(ip, ["netns", "add", namespace])
            cleanup.add { [ip, namespace] in _ = try? runCommand(ip, ["netns", "del", namespace], check: false) }
            // The AP end stays in the root namespace; the station end goes straight into the namespace.
            try runCommand(ip, ["link", "add", apInterface, "address", HostapdAccountingPeerTests.apMAC, "type", "veth",
                                "peer", "name", stationInterface, "address", HostapdAccountingPeerTests.stationMAC.description,
                                "netns", namespace])
            cleanup.add { [ip, apInterface] in _ = try? runCommand(ip, ["link", "del", apInterface], check: false) }
            try runCommand(ip, ["link", "set", apInterface, "up"])
            for link in ["lo", stationInterface] { try runCommand(ip, ["-n", namespace, "link", "set", link, "up"]) }
            try "\"qltuser\"\tMD5\t\"qltpass\"\n".write(toFile: directory + "/eap_user", atomically: true, encoding: .utf8)
            try """
                ctrl_interface=\(stationCtrlDirectory)
                ap_scan=0
                eapol_version=2
                network={
                \tkey_mgmt=IEEE8021X
                \teap=MD5
                \tidentity="qltuser"
                \tpassword="qltpass"
                \teapol_flags=0
                }

                """.write(toFile: directory + "/wpa_supplicant.conf", atomically: true, encoding: .utf8)
        }

        /// hostapd in the root namespace, its accounting sent to 127.0.0.1:`port`.
        func startHostapd(accountingPort: UInt16, interimSeconds: Int?) throws {
            try """
                interface=\(apInterface)
                driver=wired
                ctrl_interface=\(ctrlDirectory)
                ieee8021x=1
                eapol_version=2
                eap_server=1
                eap_user_file=\(directory)/eap_user
                acct_server_addr=127.0.0.1
                acct_server_port=\(accountingPort)
                acct_server_shared_secret=\(secret)
                \(interimSeconds.map { "radius_acct_interim_interval=\($0)" } ?? "")

                """.write(toFile: directory + "/hostapd.conf", atomically: true, encoding: .utf8)
            let process = try PeerProcess(hostapd, ["-d", "-t", directory + "/hostapd.conf"], logPath: directory + "/hostapd.log")
            cleanup.add { process.stop() }
            ap = process
        }

        /// wpa_supplicant (EAP-MD5) in the namespace (`ip netns exec` execs it: same PID).
        func startStation() throws {
            let process = try PeerProcess(ip, ["netns", "exec", namespace, wpaSupplicant, "-D", "wired", "-i", stationInterface,
                                               "-c", directory + "/wpa_supplicant.conf"],
                                          logPath: directory + "/wpa_supplicant.log")
            cleanup.add { process.stop() }
            station = process
        }

        /// The station sends EAPOL-Logoff: hostapd ends the session and sends Accounting-Stop.
        func logoff() throws {
            let reply = try runCommand(wpaCLI, ["-p", stationCtrlDirectory, "-i", stationInterface, "logoff"])
            guard reply.output.contains("OK") else { throw PeerFailure("wpa_cli logoff: \(reply.output)") }
        }

        /// hostapd's RADIUS accounting client MIB (`radiusAccClient…` counters), or nil if it does not answer.
        func accountingMIB() -> [String: Int]? {
            guard let reply = try? runCommand(hostapdCLI, ["-p", ctrlDirectory, "-i", apInterface, "mib"], timeout: 5, check: false),
                  reply.status == 0 else { return nil }
            var mib: [String: Int] = [:]
            for line in reply.output.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].hasPrefix("radiusAcc"), let value = Int(parts[1]) { mib[String(parts[0])] = value }
            }
            return mib["radiusAccClientRequests"] == nil ? nil : mib
        }

        var hostapdLog: String { (try? String(contentsOfFile: directory + "/hostapd.log", encoding: .utf8)) ?? "" }

        /// hostapd's RADIUS lines, without its timestamps.
        var hostapdRADIUSLines: [String] {
            hostapdLog.split(separator: "\n").filter { $0.contains("RADIUS") || $0.contains("Acct-Delay-Time") }.map { line in
                // `-t` prefixes "SECONDS.MICROS: " (twice for hostapd_logger lines).
                var rest = Substring(line)
                while let colon = rest.firstIndex(of: ":"), rest[..<colon].allSatisfy({ $0.isNumber || $0 == "." }), !rest[..<colon].isEmpty {
                    rest = rest[rest.index(after: colon)...].drop { $0 == " " }
                }
                return String(rest)
            }
        }

        func logs() -> String {
            [ap?.logTail(60), station?.logTail(20)].compactMap { $0 }.joined(separator: "\n")
        }
    }

    /// The server under test, on 127.0.0.1 port 0, with its log kept in memory.
    final class Listener: Sendable {
        let server: RADIUSAccountingServer
        let events = PeerEventLog()
        let log = InMemoryLogHandler()
        let runner: Task<Void, any Error>

        init(secret: String) throws {
            server = try RADIUSAccountingServer(endpoint: IPv4Endpoint(host: "127.0.0.1", port: 0), secret: secret,
                                                logger: Logger(label: "radius", level: .debug, handler: log))
            runner = Task { [server, events] in try await server.run(events: events.sink) }
        }

        func count(_ text: String) -> Int { log.entries.count { $0.message.contains(text) } }
        var warnings: [String] { log.entries.filter { $0.level >= .warning }.map(\.message) }
        var lines: String { log.entries.map { "  [\($0.level)] \($0.message)" }.joined(separator: "\n") }

        func wait(seconds: Double, for text: String, count: Int = 1) async -> Bool {
            await eventually(within: seconds) { self.count(text) >= count }
        }

        func stop() async {
            runner.cancel()
            _ = await runner.result
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func realHostapdAccountingIsAnsweredAndAccepted() async throws {
        let world = try World()
        defer { world.cleanup.run() }
        let listener = try Listener(secret: world.secret)
        world.cleanup.add { listener.runner.cancel() }
        let port = listener.server.endpoint.port
        let mac = Self.stationMAC.description
        var facts: [String] = ["accounting server 127.0.0.1:\(port); hostapd on \(world.apInterface) (root namespace), station on \(world.stationInterface) in \(world.namespace)"]

        try world.startHostapd(accountingPort: port, interimSeconds: 2)
        let started = ContinuousClock.now
        try #require(await listener.wait(seconds: 10, for: "radius accounting accountingOn from 127.0.0.1:"),
                     "no Accounting-On from hostapd\n\(listener.lines)\n\(world.logs())")
        facts.append("hostapd start -> Accounting-On received: \(seconds(since: started)) s")

        try world.startStation()
        let stationStarted = ContinuousClock.now
        try #require(await listener.wait(seconds: 15, for: "radius accounting start from 127.0.0.1:"),
                     "no Accounting-Start after the station authenticated\n\(listener.lines)\n\(world.logs())")
        facts.append("wpa_supplicant start -> Accounting-Start received: \(seconds(since: stationStarted)) s")
        try #require(await listener.wait(seconds: 6, for: "radius accounting interimUpdate from 127.0.0.1:"),
                     "no Interim-Update within 6 s (radius_acct_interim_interval=2)\n\(listener.lines)\n\(world.logs())")

        try world.logoff()
        let loggedOff = ContinuousClock.now
        try #require(await listener.wait(seconds: 5, for: "Accounting-Stop for \(mac) without counters"),
                     "no Accounting-Stop for the station\n\(listener.lines)\n\(world.logs())")
        facts.append("wpa_cli logoff -> Accounting-Stop received: \(seconds(since: loggedOff)) s")

        // hostapd's side: all answered, matched, and accepted.
        var mib: [String: Int] = [:]
        let settled = await eventually(within: 5) {
            guard let now = world.accountingMIB() else { return false }
            mib = now
            return now["radiusAccClientPendingRequests"] == 0 && now["radiusAccClientResponses"] == now["radiusAccClientRequests"]
        }
        #expect(settled, "hostapd's MIB did not settle: \(mib)\n\(world.logs())")
        let requests = mib["radiusAccClientRequests"] ?? 0
        #expect(requests >= 4, "Accounting-On, Start, at least one Interim-Update, Stop: \(mib)")
        #expect(mib["radiusAccClientResponses"] == requests)
        for zero in ["BadAuthenticators", "MalformedResponses", "Retransmissions", "Timeouts", "UnknownTypes", "PacketsDropped", "PendingRequests"] {
            #expect(mib["radiusAccClient" + zero] == 0, "radiusAccClient\(zero): \(mib)")
        }
        facts.append("hostapd MIB: " + mib.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))

        let radius = world.hostapdRADIUSLines
        #expect(radius.count { $0.contains("RADIUS Sending RADIUS message to accounting server") } == requests)
        #expect(radius.count { $0.contains("RADIUS: Received RADIUS packet matched with a pending request") } == requests)
        #expect(radius.contains { $0.contains("STA \(mac) RADIUS: starting accounting session") })
        #expect(radius.contains { $0.contains("STA \(mac) RADIUS: stopped accounting session") })
        for refusal in ["Response Authenticator invalid", "did not have correct Authenticator", "No RADIUS RX handler found",
                        "Resending RADIUS message", "No response from Accounting server", "No matching RADIUS request found"] {
            #expect(!world.hostapdLog.contains(refusal), "hostapd logged \"\(refusal)\"\n\(radius.joined(separator: "\n"))")
        }

        // The server's side: every request was hostapd's, nothing dropped or refused.
        #expect(listener.count("Accounting-Stop for \(mac) without counters") == 1)
        #expect(listener.count("radius accounting interimUpdate from") == requests - 3, "the Interim-Updates: \(listener.lines)")
        #expect(listener.warnings.isEmpty, "\(listener.warnings)")
        #expect(listener.events.events.isEmpty, "driver=wired: the Stop carries no octets, so no .finalCounters")

        // hostapd's Accounting-Off as it terminates.
        try #require(world.ap).signal(SIGTERM)
        #expect(await listener.wait(seconds: 5, for: "radius accounting accountingOff from 127.0.0.1:"), "no Accounting-Off\n\(listener.lines)")
        #expect(try #require(world.ap).waitForExit(seconds: 5))

        await listener.stop()
        #expect(listener.events.events.isEmpty)
        facts.append("server log:\n" + listener.lines)
        facts.append("hostapd RADIUS lines:\n  " + radius.joined(separator: "\n  "))
        print("hostapd accounting peer facts:\n  " + facts.joined(separator: "\n  "))
    }

    /// Forwards hostapd's accounting to the server and the answers back, except the
    /// server's first answer to a Stop: hostapd then retransmits that Stop itself.
    final class DroppingRelay: Sendable {
        struct State {
            var hostapd: IPv4Endpoint?
            var stopIdentifiers: [UInt8] = []
            var answered: [UInt8] = []
            var dropped: [UInt8] = []
        }

        let front: UDPSocket
        let back: UDPSocket
        let state = Mutex(State())
        private let tasks: Mutex<[Task<Void, Never>]> = Mutex([])

        init(to server: IPv4Endpoint) throws {
            front = try UDPSocket(bindingTo: IPv4Endpoint(host: "127.0.0.1", port: 0))
            back = try UDPSocket(bindingTo: IPv4Endpoint(host: "127.0.0.1", port: 0))
            let requests = Task { [self] in
                while let (bytes, sender) = try? await front.receive() {
                    // Acct-Status-Type (40) = Stop (2), found by walking the attributes.
                    var offset = 20, isStop = false
                    while offset + 2 <= bytes.count, bytes[offset + 1] >= 2 {
                        if bytes[offset] == 40, bytes[offset + 1] == 6, bytes[offset + 5] == 2 { isStop = true }
                        offset += Int(bytes[offset + 1])
                    }
                    state.withLock { s in
                        s.hostapd = sender
                        if isStop, bytes.count > 1 { s.stopIdentifiers.append(bytes[1]) }
                    }
                    try? back.send(bytes, to: server)
                }
            }
            let answers = Task { [self] in
                while let (bytes, _) = try? await back.receive() {
                    guard bytes.count > 1 else { continue }
                    let destination: IPv4Endpoint? = state.withLock { s in
                        guard s.stopIdentifiers.contains(bytes[1]) else { return s.hostapd }
                        if s.dropped.isEmpty {
                            s.dropped.append(bytes[1])
                            return nil
                        }
                        s.answered.append(bytes[1])
                        return s.hostapd
                    }
                    if let destination { try? front.send(bytes, to: destination) }
                }
            }
            tasks.withLock { $0 = [requests, answers] }
        }

        var port: UInt16 { front.localPort ?? 0 }

        func stop() async {
            let running = tasks.withLock { $0 }
            for task in running { task.cancel() }
            for task in running { await task.value }
            front.close()
            back.close()
        }

        func cancel() { tasks.withLock { $0 }.forEach { $0.cancel() } }
    }

    @Test(.timeLimit(.minutes(2)))
    func hostapdRetransmittedStopIsAnsweredAndHandledOnce() async throws {
        let world = try World()
        defer { world.cleanup.run() }
        let listener = try Listener(secret: world.secret)
        world.cleanup.add { listener.runner.cancel() }
        let relay = try DroppingRelay(to: listener.server.endpoint)
        world.cleanup.add { relay.cancel() }
        let mac = Self.stationMAC.description

        try world.startHostapd(accountingPort: relay.port, interimSeconds: nil)
        try #require(await listener.wait(seconds: 10, for: "radius accounting accountingOn from"), "no Accounting-On\n\(world.logs())")
        try world.startStation()
        try #require(await listener.wait(seconds: 15, for: "radius accounting start from"), "no Accounting-Start\n\(listener.lines)\n\(world.logs())")
        try world.logoff()
        let loggedOff = ContinuousClock.now
        try #require(await listener.wait(seconds: 5, for: "Accounting-Stop for \(mac) without counters"),
                     "no Accounting-Stop\n\(listener.lines)\n\(world.logs())")

        // hostapd waits 3 s (RADIUS_CLIENT_FIRST_WAIT), then resends the Stop with a new Identifier.
        var mib: [String: Int] = [:]
        let settled = await eventually(within: 10) {
            guard let now = world.accountingMIB() else { return false }
            mib = now
            return now["radiusAccClientRetransmissions"] == 1 && now["radiusAccClientPendingRequests"] == 0
        }
        try #require(settled, "hostapd did not retransmit and settle: \(mib)\n\(world.logs())")
        let retransmittedAfter = seconds(since: loggedOff)
        let relayed = relay.state.withLock { $0 }
        #expect(relayed.stopIdentifiers.count == 2, "the Stop and its retransmission: \(relayed)")
        #expect(Set(relayed.stopIdentifiers).count == 2, "hostapd gives the retransmission a new Identifier: \(relayed.stopIdentifiers)")
        #expect(relayed.dropped.count == 1 && relayed.answered.count == 1, "\(relayed)")
        #expect(mib["radiusAccClientBadAuthenticators"] == 0, "hostapd accepted the answer to the retransmission: \(mib)")
        #expect(mib["radiusAccClientResponses"] == mib["radiusAccClientRequests"], "\(mib)")

        let radius = world.hostapdRADIUSLines
        #expect(radius.contains { $0.contains("RADIUS: Updated Acct-Delay-Time to") && $0.contains("for retransmission") }, "\(radius)")
        #expect(radius.contains { $0.contains("Resending RADIUS message (id=\(relayed.stopIdentifiers.last ?? 0))") }, "\(radius)")
        #expect(!world.hostapdLog.contains("Response Authenticator invalid"))

        // The server saw the Stop twice (two requests to answer) but handled it once.
        #expect(listener.count("Accounting-Stop for \(mac) without counters") == 1, "\(listener.lines)")
        #expect(listener.warnings.isEmpty, "\(listener.warnings)")
        #expect(listener.events.events.isEmpty)

        await relay.stop()
        await listener.stop()
        print("""
            hostapd accounting retransmission facts:
              logoff -> hostapd's retransmission answered: \(retransmittedAfter) s
              Stop identifiers relayed: \(relayed.stopIdentifiers), first answer dropped: \(relayed.dropped)
              hostapd MIB: \(mib.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
              hostapd RADIUS lines:
                \(radius.joined(separator: "\n    "))
            """)
    }
}
