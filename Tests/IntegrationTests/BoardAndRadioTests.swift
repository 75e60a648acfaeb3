import Foundation
import Testing

/// The radio and the board end to end: qlinkd on hal-sim shows Wi-Fi and LTE subscribers,
/// a GPS fix, temperatures and a fed watchdog, and rides out radio and board faults.
@Suite(.serialized) struct BoardAndRadioTests {
    func status(_ h: Harness) async throws -> [String: Any] {
        let result = try await h.qlinkctl(["status", "--json"])
        return (try? h.json(result.stdout) as? [String: Any]) ?? [:]
    }

    func simStatus(_ h: Harness) async throws -> [String: Any] {
        let result = try await h.simctl(["status"])
        return (try? h.json(result.stdout) as? [String: Any]) ?? [:]
    }

    @Test func wifiAndLTESubscribersGPSTemperaturesAndAFedWatchdog() async throws {
        let h = try Harness("board")
        try await h.startSimulator(["--speed", "20", "--seed", "3"])
        let daemon = try await h.startDaemon()
        try await h.waitFor("Wi-Fi and LTE subscribers with counters") {
            let rows = (try? h.json(try await h.qlinkctl(["subscribers", "--json"]).stdout) as? [[String: Any]]) ?? []
            let moving = rows.filter { ($0["down_bytes"] as? NSNumber)?.uint64Value ?? 0 > 0 }
            return Set(moving.compactMap { $0["kind"] as? String }) == ["wifi", "lte"]
        }
        try await h.waitFor("a 3D fix and a fed watchdog") {
            let s = try await status(h)
            let gps = s["gps"] as? [String: Any]
            return gps?["fix"] as? String == "3d" && (s["watchdog"] as? String)?.hasPrefix("ok") == true
        }
        let s = try await status(h)
        let gps = try #require(s["gps"] as? [String: Any])
        #expect(abs((gps["lat"] as? Double ?? 0) - 52.520008) < 1e-4)
        #expect((s["temperature_c"] as? Double ?? 0) > 20)
        #expect(s["radio"] as? String == "up")
        let board = try await h.qlinkctl(["board"])
        #expect(board.status == 0 && board.stdout.contains("thermal_zone0") && board.stdout.contains("front end"))

        // A clean stop disarms the watchdog with the magic close.
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        try await h.waitFor("hal-sim to see the magic close") {
            ((try await simStatus(h))["watchdog"] as? [String: Any])?["magic_close"] as? Bool == true
        }
    }

    @Test func aRadioRestartIsReportedAndRecoveredFrom() async throws {
        let h = try Harness("radiofault")
        try await h.startSimulator(["--speed", "20", "--seed", "5"])
        try await h.startDaemon()
        try await h.waitFor("radio up") { try await status(h)["radio"] as? String == "up" }
        #expect(try await h.simctl(["inject", "radio-restart", "3"]).status == 0)
        try await h.waitFor("radio degraded") { try await status(h)["radio"] as? String == "degraded" }
        try await h.waitFor("radio back up") { try await status(h)["radio"] as? String == "up" }
        try await h.waitFor("the cell configuration applied again") {
            let radio = try await h.qlinkctl(["radio", "--json"])
            return (try? h.json(radio.stdout) as? [String: Any])?["configuration"] as? String == "applied"
        }
        #expect(h.logs().contains("restarted: every cellular session starts again"))
    }

    @Test func thermalSpikeAlarmsAndClearsAndAnUnpluggedFrontEndIsReported() async throws {
        let h = try Harness("thermal")
        try await h.startSimulator(["--speed", "20"])
        try await h.startDaemon()
        #expect(try await h.simctl(["inject", "thermal-spike", "6"]).status == 0)
        try await h.waitFor("the thermal alarm") { try await status(h)["thermal_alarm"] as? Bool == true }
        try await h.waitFor("the alarm to clear") { try await status(h)["thermal_alarm"] as? Bool == false }
        #expect(try await h.simctl(["inject", "frontend-unplug"]).status == 0)
        try await h.waitFor("the front end reported absent") { try await h.qlinkctl(["board"]).stdout.contains("absent") }
        try await h.waitFor("the radio reported down") { try await status(h)["radio"] as? String != "up" }
        #expect(try await h.simctl(["inject", "frontend-plug"]).status == 0)
        try await h.waitFor("the radio back up", seconds: 60) { try await status(h)["radio"] as? String == "up" }
        #expect(h.logs().contains("thermal alarm"))
    }

    @Test func thirtyDBmIsRefusedAtStart() async throws {
        let h = try Harness("power")
        try await h.startSimulator()
        let config = try String(contentsOfFile: h.config, encoding: .utf8)
        try config.replacingOccurrences(of: "transmit_power = 20", with: "transmit_power = 30").write(toFile: h.config, atomically: true, encoding: .utf8)
        let result = try await h.run("qlinkd", ["--config", h.config, "--check-config"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("radio.transmit_power: 30 dBm is above the BaseStation's rating of 20 dBm (100 mW)"))
    }
}
