import Foundation
import Testing

/// What an operator sees when things go wrong: bad configs, a second daemon, garbage on
/// the control socket, hal-sim dying, signals.
struct DaemonBehaviourTests {
    @Test func aTypoInTheConfigExits78NamingFileAndLine() throws {
        let h = try Harness("typo")
        try "[station]\nname = x\n[wifi]\ninterfase = wlan0\n".write(toFile: h.config, atomically: true, encoding: .utf8)
        let result = try h.run("qlinkd", ["--config", h.config])
        #expect(result.status == 78)
        #expect(result.stderr == "qlinkd: \(h.config):4: unknown key 'interfase' in [wifi]; did you mean 'wifi.interface'?\n")
        let check = try h.run("qlinkd", ["--config", h.config, "--check-config"])
        #expect(check.status == 78)
    }

    @Test func checkConfigAcceptsHalSimsConfigAndListKeysDocumentsDefaults() throws {
        let h = try Harness("check")
        try h.startSimulator()
        let check = try h.run("qlinkd", ["--config", h.config, "--check-config"])
        #expect(check.status == 0 && check.stdout == "\(h.config): OK\n")
        let keys = try h.run("qlinkd", ["--list-keys"])
        #expect(keys.status == 0)
        #expect(keys.stdout.contains("[metering] poll_interval = 5s"))
    }

    @Test func aSecondDaemonOnTheSameStateIsRefusedNamingTheHolder() throws {
        let h = try Harness("second")
        try h.startSimulator()
        let first = try h.startDaemon()
        let second = try h.run("qlinkd", ["--config", h.config])
        #expect(second.status == 75)
        #expect(second.stderr.contains("locked by process \(first.processIdentifier)"))
        #expect(try h.qlinkctl(["ping"]).status == 0)
    }

    @Test func garbageOnTheControlSocketGetsAnErrorAndChangesNothing() throws {
        let h = try Harness("garbage")
        try h.startSimulator()
        try h.startDaemon()
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
        #expect(try h.qlinkctl(["status"]).status == 0)
    }

    @Test func theStationKeyIsCreatedOnceAndKept() throws {
        let h = try Harness("key")
        try h.startSimulator()
        let daemon = try h.startDaemon()
        let keyPath = "\(h.root)/state/station.key"
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let key = try String(contentsOfFile: keyPath, encoding: .utf8)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        try h.startDaemon(log: "qlinkd-2")
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == key)
        #expect(h.logs().contains("station key loaded"))
    }

    @Test func sigtermStopsWithinFiveSecondsAndSigkillIsSurvivable() throws {
        let h = try Harness("signals")
        try h.startSimulator()
        let daemon = try h.startDaemon()
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        let restarted = try h.startDaemon(log: "qlinkd-after-kill")
        let started = Date()
        kill(restarted.processIdentifier, SIGTERM)
        try h.waitFor("qlinkd to stop", seconds: 5) { !restarted.isRunning }
        #expect(restarted.terminationStatus == 0)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(try h.qlinkctl(["status"]).status == 69)
    }

    @Test func qlinkdSurvivesHalSimDyingAndReconnects() throws {
        let h = try Harness("simdies")
        try h.startSimulator(["--speed", "20"])
        try h.startDaemon()
        try h.waitFor("subscribers seen") { (try h.qlinkctl(["subscribers", "--json"]).stdout.contains("mac:")) }
        let sim = try h.run("/usr/bin/pkill", ["-TERM", "-f", "hal-sim --root \(h.root)"])
        #expect(sim.status == 0)
        try h.waitFor("wifi degraded") { try h.qlinkctl(["status", "--json"]).stdout.contains("\"wifi\":\"degraded\"") }
        #expect(try h.qlinkctl(["subscribers", "--json"]).stdout.contains("mac:"), "what it held is kept")
        try h.startSimulator(["--speed", "20"])
        try h.waitFor("wifi up again") { try h.qlinkctl(["status", "--json"]).stdout.contains("\"wifi\":\"up\"") }
    }

    @Test func aReloadWithABrokenConfigKeepsTheRunningOne() throws {
        let h = try Harness("reload")
        try h.startSimulator()
        try h.startDaemon()
        let good = try String(contentsOfFile: h.config, encoding: .utf8)
        try (good + "\n[log]\nlevel = debug\n").write(toFile: h.config, atomically: true, encoding: .utf8)
        let applied = try h.qlinkctl(["reload"])
        #expect(applied.status == 0)
        try (good + "\n[log]\nlevel = loud\n").write(toFile: h.config, atomically: true, encoding: .utf8)
        let refused = try h.qlinkctl(["reload"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("log.level: expected one of"))
        #expect(try h.qlinkctl(["ping"]).status == 0)
    }

    @Test func eventsFollowConnectsAndDisconnects() throws {
        let h = try Harness("events")
        try h.startSimulator(["--speed", "20"])
        try h.startDaemon()
        try h.waitFor("a subscriber") { (try h.qlinkctl(["subscribers", "--json"]).stdout.contains("mac:")) }
        let events = try h.start("qlinkctl", ["--config", h.config, "events", "--json"], log: "events")
        usleep(500_000)
        let list = try h.run("/usr/sbin/hostapd_cli", ["-p", "\(h.root)/hostapd", "-i", "wlan0", "all_sta"])
        guard let mac = list.stdout.split(separator: "\n").first(where: { $0.count == 17 && $0.contains(":") }) else {
            Issue.record("no station in hostapd_cli all_sta: \(list)")
            return
        }
        #expect(try h.run("/usr/sbin/hostapd_cli", ["-p", "\(h.root)/hostapd", "-i", "wlan0", "deauthenticate", String(mac)]).status == 0)
        try h.waitFor("the disconnect event") { h.logs().contains("\"event\":\"station-disconnected\",\"subscriber\":\"mac:\(mac)\"") }
        kill(events.processIdentifier, SIGTERM)
        events.waitUntilExit()
        #expect(events.terminationStatus == 0)
    }

    @Test func qlinkctlSaysWhenTheDaemonIsNotRunning() throws {
        let h = try Harness("down")
        try h.startSimulator()
        let result = try h.qlinkctl(["status"])
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
