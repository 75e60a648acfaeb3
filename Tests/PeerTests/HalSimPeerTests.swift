import Foundation
import HAL
import HALLinux
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// hal-sim started as `hal-sim --root ROOT --speed 60`, ready once `ROOT/ready` exists; its
/// emulated hostapd socket is `ROOT/hostapd/wlan0` (the interface in DESIGN.md).
struct HalSim {
    let root: String
    let process: PeerProcess
    var hostapdDirectory: String { root + "/hostapd" }

    init(cleanup: Cleanup) async throws {
        let halSim = PeerTool.buildDirectory + "/hal-sim"
        guard access(halSim, X_OK) == 0 else { throw PeerFailure("hal-sim is not built at \(halSim)") }
        let scratch = try makeTemporaryDirectory("qlt-sim", cleanup: cleanup)
        let root = scratch + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let process = try PeerProcess(halSim, ["--root", root, "--speed", "60"], logPath: scratch + "/hal-sim.log")
        cleanup.add { process.stop() }
        let ready = await eventually(within: 30) { access(root + "/ready", F_OK) == 0 || !process.isRunning }
        guard ready, process.isRunning else {
            throw PeerFailure("hal-sim did not become ready (\(process.isRunning ? "no \(root)/ready after 30 s" : "exited \(process.terminationStatus)"))\n\(process.logTail())")
        }
        self.root = root
        self.process = process
    }
}

/// The real `hostapd_cli` against hal-sim's emulated hostapd socket: hal-sim must speak
/// hostapd's control protocol well enough for hostapd's own client.
@Suite("hostapd_cli against hal-sim")
struct HostapdCLIPeerTests {
    /// The stations `hostapd_cli all_sta` printed: each block starts with a MAC line.
    static func stationBlocks(_ listing: String) -> [(mac: MACAddress, lines: [Substring])] {
        var blocks: [(mac: MACAddress, lines: [Substring])] = []
        for line in listing.split(separator: "\n") {
            if let mac = MACAddress(line.trimmingCharacters(in: .whitespaces)) {
                blocks.append((mac, []))
            } else if !blocks.isEmpty {
                blocks[blocks.count - 1].lines.append(line)
            }
        }
        return blocks
    }

    /// Listed and not explicitly unauthorized (a block without a `flags=` line counts as authorized).
    static func isListedAsConnected(_ mac: MACAddress, in listing: String) -> Bool {
        guard let block = stationBlocks(listing).first(where: { $0.mac == mac }) else { return false }
        guard let flags = block.lines.first(where: { $0.hasPrefix("flags=") }) else { return true }
        return flags.contains("[AUTHORIZED]")
    }

    @Test(.timeLimit(.minutes(2)))
    func hostapdCLIWorksAgainstHalSim() async throws {
        let cli = try PeerTool.require("hostapd_cli", package: "hostapd")
        let cleanup = Cleanup()
        defer { cleanup.run() }
        let halSim = try await HalSim(cleanup: cleanup)
        let arguments = ["-p", halSim.hostapdDirectory, "-i", "wlan0"]
        func hostapdCLI(_ command: String...) throws -> String {
            try runCommand(cli, arguments + command, timeout: 10).output
        }

        #expect(try hostapdCLI("ping").split(separator: "\n").contains("PONG"))
        let status = try hostapdCLI("status")
        #expect(status.split(separator: "\n").contains("state=ENABLED"), "status:\n\(status)")

        // Simulated subscribers associate over (simulated) time: wait for some.
        var listing = ""
        let someStations = try await eventually(within: 20) {
            listing = try hostapdCLI("all_sta")
            return !Self.stationBlocks(listing).isEmpty
        }
        try #require(someStations, "all_sta listed no station within 20 s:\n\(listing)\n\(halSim.process.logTail())")
        let blocks = Self.stationBlocks(listing)
        for block in blocks {
            #expect(block.lines.contains { $0.hasPrefix("rx_bytes=") && UInt64($0.dropFirst(9)) != nil }, "\(block.mac) has no rx_bytes")
            #expect(block.lines.contains { $0.hasPrefix("tx_bytes=") && UInt64($0.dropFirst(9)) != nil }, "\(block.mac) has no tx_bytes")
        }
        let victim = try #require(blocks.first { Self.isListedAsConnected($0.mac, in: listing) }?.mac)
        let single = try hostapdCLI("sta", victim.description)
        #expect(Self.stationBlocks(single).first?.mac == victim, "sta \(victim):\n\(single)")

        let answer = try hostapdCLI("deauthenticate", victim.description)
        #expect(answer.split(separator: "\n").contains("OK"), "deauthenticate answered:\n\(answer)")
        let gone = try await eventually(within: 5) { !Self.isListedAsConnected(victim, in: try hostapdCLI("all_sta")) }
        #expect(gone, "\(victim) is still listed as connected after deauthenticate")
        #expect(halSim.process.isRunning, "hal-sim exited during the test\n\(halSim.process.logTail())")
    }
}

/// `HostapdAccessPoint` against hal-sim: the simulated board reports byte counters, so the
/// backend must read them and claim `.byteCounters`.
@Suite("HostapdAccessPoint against hal-sim")
struct HostapdHalSimPeerTests {
    @Test(.timeLimit(.minutes(2)))
    func backendReadsHalSimsStationsAndNoticesItLeaving() async throws {
        let cleanup = Cleanup()
        defer { cleanup.run() }
        let halSim = try await HalSim(cleanup: cleanup)
        let log = PeerEventLog()
        let backend = HostapdAccessPoint(
            ctrlInterface: halSim.hostapdDirectory, interface: "wlan0", pskFile: nil, counterWidth: .bits64,
            commandTimeout: .seconds(1), logger: Logger(label: "peer", level: .info),
            timing: HostapdTiming(keepaliveInterval: .milliseconds(500), initialBackoff: .milliseconds(100), maximumBackoff: .seconds(1)))
        let runner = Task { try await backend.run(events: log.sink) }
        cleanup.add { runner.cancel() }

        try #require(await log.wait(seconds: 10) { $0.contains(.accessPointEnabled) }, "\(log.events)\n\(halSim.process.logTail())")
        var stations: [StationInfo] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while stations.isEmpty && ContinuousClock.now < deadline {
            stations = try await backend.stations()
            if stations.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(!stations.isEmpty, "hal-sim listed no stations within 20 s")
        #expect(stations.allSatisfy { $0.counters != nil }, "hal-sim must report byte counters: \(stations)")
        #expect(backend.capabilities.contains(.byteCounters))

        let victim = try #require(stations.first { $0.authorized }?.mac)
        try await backend.deauthenticate(victim)
        #expect(try await backend.stations().first { $0.mac == victim }?.authorized != true,
                "\(victim) still listed as connected after deauthenticate")

        halSim.process.signal(SIGTERM)
        #expect(await log.wait(seconds: 5) { $0.contains { $0.name == "degraded" } }, "hal-sim gone but no degraded: \(log.events)")
        #expect(backend.state == .degraded)
        runner.cancel()
        _ = await runner.result
    }
}
