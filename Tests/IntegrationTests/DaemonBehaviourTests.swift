import Foundation
import Testing

/// What an operator sees when things go wrong: bad configs, a second daemon, garbage on
/// the control socket, hal-sim dying, signals.
@Suite(.serialized) struct DaemonBehaviourTests {
    @Test func aTypoInTheConfigExits78NamingFileAndLine() async throws {
        let h = try Harness("typo")
        try "[station]\nname = x\n[wifi]\ninterfase = wlan0\n".write(toFile: h.config, atomically: true, encoding: .utf8)
        let result = try await h.run("qlinkd", ["--config", h.config])
        #expect(result.status == 78)
        #expect(result.stderr == "qlinkd: \(h.config):4: unknown key 'interfase' in [wifi]; did you mean 'wifi.interface'?\n")
        let check = try await h.run("qlinkd", ["--config", h.config, "--check-config"])
        #expect(check.status == 78)
    }

    @Test func checkConfigAcceptsHalSimsConfigAndListKeysDocumentsDefaults() async throws {
        let h = try Harness("check")
        try await h.startSimulator()
        let check = try await h.run("qlinkd", ["--config", h.config, "--check-config"])
        #expect(check.status == 0 && check.stdout == "\(h.config): OK\n")
        let keys = try await h.run("qlinkd", ["--list-keys"])
        #expect(keys.status == 0)
        #expect(keys.stdout.contains("[metering] poll_interval = 5s"))
    }

    @Test func aSecondDaemonOnTheSameStateIsRefusedNamingTheHolder() async throws {
        let h = try Harness("second")
        try await h.startSimulator()
        let first = try await h.startDaemon()
        let second = try await h.run("qlinkd", ["--config", h.config])
        #expect(second.status == 75)
        #expect(second.stderr.contains("locked by process \(first.processIdentifier)"))
        #expect(try await h.qlinkctl(["ping"]).status == 0)
    }

    @Test func garbageOnTheControlSocketGetsAnErrorAndChangesNothing() async throws {
        let h = try Harness("garbage")
        try await h.startSimulator()
        try await h.startDaemon()
        let socket = "\(h.root)/run/qlinkd.sock"
        let replies = try ControlSocketClient(path: socket).exchange([
            "this is not json",
            "{\"cmd\":\"no-such-command\"}",
            String(repeating: "x", count: 70_000),
            "{\"cmd\":\"ping\"}",
        ])
        #expect(replies.count == 4)
        #expect(replies[0].contains("\"ok\":false") && replies[0].contains("malformed request"))
        #expect(replies[1].contains("unknown command 'no-such-command'"))
        #expect(replies[2].contains("request longer than 65536 bytes"))
        #expect(replies[3] == "{\"ok\":true,\"result\":\"pong\"}")
        #expect(try await h.qlinkctl(["status"]).status == 0)
    }

    @Test func theStationKeyIsCreatedOnceAndKept() async throws {
        let h = try Harness("key")
        try await h.startSimulator()
        let daemon = try await h.startDaemon()
        let keyPath = "\(h.root)/state/station.key"
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let key = try String(contentsOfFile: keyPath, encoding: .utf8)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        try await h.startDaemon(log: "qlinkd-2")
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == key)
        #expect(h.logs().contains("station key loaded"))
    }

    @Test func sigtermStopsWithinFiveSecondsAndSigkillIsSurvivable() async throws {
        let h = try Harness("signals")
        try await h.startSimulator()
        let daemon = try await h.startDaemon()
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        let restarted = try await h.startDaemon(log: "qlinkd-after-kill")
        let started = Date()
        kill(restarted.processIdentifier, SIGTERM)
        try await h.waitFor("qlinkd to stop", seconds: 5) { !restarted.isRunning }
        #expect(restarted.terminationStatus == 0)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(try await h.qlinkctl(["status"]).status == 69)
    }

    @Test func qlinkdSurvivesHalSimDyingAndReconnects() async throws {
        let h = try Harness("simdies")
        try await h.startSimulator(["--speed", "20"])
        try await h.startDaemon()
        try await h.waitFor("subscribers seen") { (try await h.qlinkctl(["subscribers", "--json"]).stdout.contains("mac:")) }
        let sim = try await h.run("/usr/bin/pkill", ["-TERM", "-f", "hal-sim --root \(h.root)"])
        #expect(sim.status == 0)
        try await h.waitFor("wifi degraded") { try await h.qlinkctl(["status", "--json"]).stdout.contains("\"wifi\":\"degraded\"") }
        #expect(try await h.qlinkctl(["subscribers", "--json"]).stdout.contains("mac:"), "what it held is kept")
        try await h.startSimulator(["--speed", "20"])
        try await h.waitFor("wifi up again") { try await h.qlinkctl(["status", "--json"]).stdout.contains("\"wifi\":\"up\"") }
    }

    @Test func aReloadWithABrokenConfigKeepsTheRunningOne() async throws {
        let h = try Harness("reload")
        try await h.startSimulator()
        try await h.startDaemon()
        let good = try String(contentsOfFile: h.config, encoding: .utf8)
        try (good + "\n[log]\nlevel = debug\n").write(toFile: h.config, atomically: true, encoding: .utf8)
        let applied = try await h.qlinkctl(["reload"])
        #expect(applied.status == 0)
        try (good + "\n[log]\nlevel = loud\n").write(toFile: h.config, atomically: true, encoding: .utf8)
        let refused = try await h.qlinkctl(["reload"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("log.level: expected one of"))
        #expect(try await h.qlinkctl(["ping"]).status == 0)
    }

    @Test func eventsFollowConnectsAndDisconnects() async throws {
        let h = try Harness("events")
        try await h.startSimulator(["--speed", "20"])
        try await h.startDaemon()
        try await h.waitFor("a subscriber") { (try await h.qlinkctl(["subscribers", "--json"]).stdout.contains("mac:")) }
        let events = try await h.start("qlinkctl", ["--config", h.config, "events", "--json"], log: "events")
        try await Task.sleep(for: .milliseconds(500))
        let list = try await h.run("/usr/sbin/hostapd_cli", ["-p", "\(h.root)/hostapd", "-i", "wlan0", "all_sta"])
        guard let mac = list.stdout.split(separator: "\n").first(where: { $0.count == 17 && $0.contains(":") }) else {
            Issue.record("no station in hostapd_cli all_sta: \(list)")
            return
        }
        #expect(try await h.run("/usr/sbin/hostapd_cli", ["-p", "\(h.root)/hostapd", "-i", "wlan0", "deauthenticate", String(mac)]).status == 0)
        try await h.waitFor("the disconnect event") { h.logs().contains("\"event\":\"station-disconnected\",\"subscriber\":\"mac:\(mac)\"") }
        kill(events.processIdentifier, SIGTERM)
        events.waitUntilExit()
        #expect(events.terminationStatus == 0)
    }

    @Test func qlinkctlSaysWhenTheDaemonIsNotRunning() async throws {
        let h = try Harness("down")
        try await h.startSimulator()
        let result = try await h.qlinkctl(["status"])
        #expect(result.status == 69)
        #expect(result.stderr == "qlinkctl: qlinkd is not running (no socket at \(h.root)/run/qlinkd.sock)\n")
    }
}

/// A raw client of the control socket, to send what qlinkctl never would.
struct ControlSocketClient {
    let path: String

    func exchange(_ lines: [String]) throws -> [String] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw HarnessError("connect \(path): errno \(errno)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let payload = Array((lines.joined(separator: "\n") + "\n").utf8)
        var sent = 0
        while sent < payload.count {
            let n = payload[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw HarnessError("send: errno \(errno)") }
            sent += n
        }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.filter({ $0 == 10 }).count < lines.count {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            received.append(contentsOf: buffer[..<n])
        }
        return String(decoding: received, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
