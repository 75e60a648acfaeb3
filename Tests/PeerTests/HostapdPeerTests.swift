import Foundation
import HAL
import HALLinux
import Logging
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `HostapdAccessPoint` against the real hostapd 2.10 (`driver=wired`, 802.1X with EAP-MD5)
/// on a veth pair in a network namespace the test makes, with wpa_supplicant as the station.
@Suite("HostapdAccessPoint against real hostapd", .serialized)
struct HostapdPeerTests {
    static let apMAC = "02:00:00:51:0a:01"
    static let stationMAC = MACAddress("02:00:00:51:0b:01")!

    /// A hostapd + wpa_supplicant world in its own namespace; `cleanup` ends all of it.
    final class World: @unchecked Sendable {
        let cleanup = Cleanup()
        let ip: String, hostapd: String, wpaSupplicant: String
        let namespace = "qlt-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let directory: String
        var ctrlDirectory: String { directory + "/ctrl" }
        private(set) var ap: PeerProcess?
        private(set) var station: PeerProcess?
        private var hostapdRuns = 0

        init() throws {
            ip = try PeerTool.require("ip", package: "iproute2")
            hostapd = try PeerTool.require("hostapd", package: "hostapd")
            wpaSupplicant = try PeerTool.require("wpa_supplicant", package: "wpasupplicant")
            directory = try makeTemporaryDirectory("qlt-peer", cleanup: cleanup)
            try runCommand(ip, ["netns", "add", namespace])
            cleanup.add { [ip, namespace] in _ = try? runCommand(ip, ["netns", "del", namespace], check: false) }
            try runCommand(ip, ["-n", namespace, "link", "add", "qap0", "address", HostapdPeerTests.apMAC, "type", "veth",
                                "peer", "name", "qsta0", "address", HostapdPeerTests.stationMAC.description])
            for link in ["lo", "qap0", "qsta0"] { try runCommand(ip, ["-n", namespace, "link", "set", link, "up"]) }
            try """
                interface=qap0
                driver=wired
                ctrl_interface=\(ctrlDirectory)
                ieee8021x=1
                eapol_version=2
                eap_server=1
                eap_user_file=\(directory)/eap_user

                """.write(toFile: directory + "/hostapd.conf", atomically: true, encoding: .utf8)
            try "\"qltuser\"\tMD5\t\"qltpass\"\n".write(toFile: directory + "/eap_user", atomically: true, encoding: .utf8)
            try """
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

        /// Starts hostapd in the namespace (`ip netns exec` execs it: same PID).
        func startHostapd() throws {
            hostapdRuns += 1
            let process = try PeerProcess(ip, ["netns", "exec", namespace, hostapd, "-d", "-t", directory + "/hostapd.conf"],
                                          logPath: directory + "/hostapd.\(hostapdRuns).log")
            cleanup.add { process.stop() }
            ap = process
        }

        func startStation() throws {
            let process = try PeerProcess(ip, ["netns", "exec", namespace, wpaSupplicant, "-D", "wired", "-i", "qsta0",
                                               "-c", directory + "/wpa_supplicant.conf"],
                                          logPath: directory + "/wpa_supplicant.log")
            cleanup.add { process.stop() }
            station = process
        }

        func logs() -> String {
            [ap?.logTail(), station?.logTail()].compactMap { $0 }.joined(separator: "\n")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func realHostapdConnectsDeauthenticatesAndSurvivesRestarts() async throws {
        let world = try World()
        defer { world.cleanup.run() }
        try world.startHostapd()
        let started = ContinuousClock.now

        let log = PeerEventLog()
        let backend = HostapdAccessPoint(
            ctrlInterface: world.ctrlDirectory, interface: "qap0", pskFile: nil, counterWidth: .bits64,
            commandTimeout: .seconds(1), logger: Logger(label: "peer", level: .info),
            timing: HostapdTiming(keepaliveInterval: .milliseconds(500), initialBackoff: .milliseconds(100), maximumBackoff: .seconds(1)))
        let runner = Task { try await backend.run(events: log.sink) }
        world.cleanup.add { runner.cancel() }
        var facts: [String] = []

        // hostapd up: the backend attaches and reports the AP enabled.
        try #require(await log.wait(seconds: 10) { $0.contains(.accessPointEnabled) }, "no AP-ENABLED\n\(world.logs())")
        facts.append("hostapd start -> backend up: \(seconds(since: started)) s")
        #expect(backend.state == .up)

        // DISABLE / ENABLE work with driver=wired.
        try await backend.stop()
        try #require(await log.wait(seconds: 3) { $0.contains(.accessPointDisabled) })
        #expect(backend.state == .down)
        try await backend.start()
        try #require(await log.wait(seconds: 3) { $0.filter { $0 == .accessPointEnabled }.count == 2 })
        #expect(backend.state == .up)

        // A station: wpa_supplicant with EAP-MD5 over the veth.
        try world.startStation()
        let stationStarted = ContinuousClock.now
        try #require(await log.wait(seconds: 15) { $0.contains(.stationConnected(.mac(Self.stationMAC))) },
                     "no AP-STA-CONNECTED\n\(world.logs())")
        facts.append("wpa_supplicant start -> stationConnected: \(seconds(since: stationStarted)) s")
        let stations = try await backend.stations()
        let listed = try #require(stations.first { $0.mac == Self.stationMAC }, "STA-FIRST does not list the station: \(stations)")
        #expect(listed.authorized)
        #expect(listed.counters == nil, "driver=wired reports no byte counters")
        #expect(!backend.capabilities.contains(.byteCounters))
        #expect(!backend.capabilities.contains(.signalStrength))
        facts.append("driver=wired STA reply: counters \(listed.counters == nil ? "absent" : "present"), connected_time \(listed.connectedSeconds.map(String.init) ?? "absent")")

        // Deauthenticate: hostapd sends AP-STA-DISCONNECTED before its OK.
        try await backend.deauthenticate(Self.stationMAC)
        #expect(log.events.last == .stationDisconnected(.mac(Self.stationMAC), finalCounters: nil),
                "the event arrives before the reply, so it is delivered before deauthenticate returns")
        #expect(try await backend.stations().contains { $0.mac == Self.stationMAC } == false)

        // Restart 1: SIGTERM. hostapd says CTRL-EVENT-TERMINATING and removes its socket.
        let ap1 = try #require(world.ap)
        ap1.signal(SIGTERM)
        let terminated = ContinuousClock.now
        try #require(await log.wait(seconds: 5) { $0.contains { $0.name == "degraded" } }, "no degraded after SIGTERM\n\(world.logs())")
        facts.append("SIGTERM -> degraded: \(seconds(since: terminated)) s")
        #expect(backend.state == .degraded)
        await #expect(throws: HALError.self) { try await backend.stations() }
        #expect(ap1.waitForExit(seconds: 5))
        try world.startHostapd()
        let restarted = ContinuousClock.now
        try #require(await log.wait(seconds: 10) { $0.filter { $0.name == "restored" }.count == 1 }, "not restored\n\(world.logs())")
        facts.append("second hostapd start -> restored: \(seconds(since: restarted)) s")
        #expect(backend.state == .up)
        #expect(log.events.count { $0.name == "counters-reset" } == 1)

        // Restart 2: SIGKILL. hostapd says nothing and leaves its socket file; the keepalive notices.
        let ap2 = try #require(world.ap)
        ap2.signal(SIGKILL)
        let killed = ContinuousClock.now
        try #require(await log.wait(seconds: 5) { $0.filter { $0.name == "degraded" }.count == 2 }, "no degraded after SIGKILL")
        facts.append("SIGKILL -> degraded: \(seconds(since: killed)) s (keepalive 0.5 s)")
        #expect(backend.state == .degraded)
        #expect(ap2.waitForExit(seconds: 5))
        try world.startHostapd()
        try #require(await log.wait(seconds: 10) { $0.filter { $0.name == "restored" }.count == 2 }, "not restored after SIGKILL\n\(world.logs())")
        #expect(backend.state == .up)
        #expect(log.events.count { $0.name == "counters-reset" } == 2)

        runner.cancel()
        _ = await runner.result
        #expect(backend.state == .down)
        facts.append("events: " + log.events.map(\.name).joined(separator: ", "))
        print("hostapd peer facts:\n  " + facts.joined(separator: "\n  "))
    }
}

/// Collects a backend's events (the peer tests' copy; no code is shared across test targets).
final class PeerEventLog: Sendable {
    private let storage = Mutex<[HALEvent]>([])
    var sink: HALEventSink { { [self] event in storage.withLock { $0.append(event) } } }
    var events: [HALEvent] { storage.withLock { $0 } }

    func wait(seconds: Double, _ predicate: ([HALEvent]) -> Bool) async -> Bool {
        await eventually(within: seconds) { predicate(events) }
    }
}
