import Foundation
import Testing

/// The metering journal against hal-sim's ground truth (issue: every subscriber's bytes,
/// exactly, durably and verifiably). Runs with fixed seeds.
@Suite(.serialized) struct JournalAccuracyTests {
    static let churnFaults = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Scenarios/churn-faults.conf").path

    typealias Usage = [String: (up: UInt64, down: UInt64)]

    func truth(_ h: Harness) async throws -> Usage {
        let result = try await h.simctl(["truth", "--json"])
        return try rows(h, result.stdout, id: "id")
    }

    func journal(_ h: Harness) async throws -> Usage {
        let result = try await h.qlinkctl(["meter", "summary", "--json"])
        #expect(result.status == 0, "meter summary: \(result.stderr)")
        return try rows(h, result.stdout, id: "subscriber")
    }

    func rows(_ h: Harness, _ text: String, id key: String) throws -> Usage {
        var usage: Usage = [:]
        for row in (try h.json(text) as? [[String: Any]]) ?? [] {
            guard let id = row[key] as? String, let up = (row["up_bytes"] as? NSNumber)?.uint64Value,
                  let down = (row["down_bytes"] as? NSNumber)?.uint64Value else { throw HarnessError("bad row \(row)") }
            usage[id] = (up, down)
        }
        return usage
    }

    func verify(_ h: Harness) async throws -> String {
        let result = try await h.qlinkctl(["meter", "verify", "--json"])
        #expect(result.status == 0, "meter verify: \(result.stdout) \(result.stderr)")
        return result.stdout
    }

    /// Starts the world frozen, with qlinkd in place before the first byte moves.
    func start(_ h: Harness, scenario: String, seed: Int) async throws -> Process {
        try await h.startSimulator(["--scenario", scenario, "--seed", "\(seed)", "--speed", "20", "--paused", "yes"])
        let daemon = try await h.startDaemon()
        try await h.waitFor("wifi and radio up") {
            let status = (try? h.json(try await h.qlinkctl(["status", "--json"]).stdout) as? [String: Any]) ?? [:]
            return status["wifi"] as? String == "up" && status["radio"] as? String == "up"
        }
        try await Task.sleep(for: .seconds(3))  // a few polls: every session already there is known
        #expect(try await h.simctl(["inject", "resume"]).status == 0)
        return daemon
    }

    /// Freezes the world, lets the last polls and final counters land, stops qlinkd cleanly.
    func finish(_ h: Harness, _ daemon: Process) async throws {
        #expect(try await h.simctl(["inject", "pause"]).status == 0)
        try await Task.sleep(for: .seconds(5))
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }

    @Test(arguments: [("busy-day", 11), ("churn", 12)])
    func withoutCrashesTheJournalEqualsTheTruthByteForByte(scenario: String, seed: Int) async throws {
        let h = try Harness("exact-\(scenario)")
        let daemon = try await start(h, scenario: scenario, seed: seed)
        try await Task.sleep(for: .seconds(40))
        try await finish(h, daemon)
        let real = try await truth(h)
        let metered = try await journal(h)
        #expect(real.count > 5, "too few subscribers to mean anything")
        for (id, bytes) in real {
            // Final counters at every disconnect: hostapd's Accounting-Stop for a station,
            // the MS records OpenBTS still lists after a UE detached.
            let seen = metered[id] ?? (0, 0)
            #expect(seen.up == bytes.up && seen.down == bytes.down, "\(scenario): \(id) journal \(seen) truth \(bytes)")
        }
        let ues = real.keys.filter { $0.hasPrefix("imsi:") }.count
        print("\(scenario): \(real.count) subscribers (\(ues) UEs), \(real.values.reduce(0) { $0 + $1.up + $1.down }) bytes")
        #expect(Set(metered.keys).isSubset(of: Set(real.keys)), "the journal names subscribers that never existed")
        _ = try await verify(h)
    }

    /// hal-sim's simulated clock now.
    func simSeconds(_ h: Harness) async throws -> Double {
        let status = try h.json(try await h.simctl(["status"]).stdout) as? [String: Any]
        return (status?["sim_seconds"] as? NSNumber)?.doubleValue ?? 0
    }

    /// Every ended session hal-sim remembers: who, when it ended (simulated seconds), why, its bytes.
    func endedSessions(_ h: Harness) async throws -> [(id: String, ended: Double, cause: String, up: UInt64, down: UInt64)] {
        try await h.simctl(["sessions"]).stdout.split(separator: "\n").map { line in
            guard let row = try h.json(String(line)) as? [String: Any], let id = row["id"] as? String,
                  let ended = (row["ended"] as? NSNumber)?.doubleValue, let cause = row["cause"] as? String,
                  let up = (row["up_bytes"] as? NSNumber)?.uint64Value, let down = (row["down_bytes"] as? NSNumber)?.uint64Value
            else { throw HarnessError("bad session \(line)") }
            return (id, ended, cause, up, down)
        }
    }

    @Test func killedAtRandomTheJournalStaysIntactAndNothingButTheOutagesIsLost() async throws {
        let h = try Harness("kill9")
        // Readings are durable within 2 s (a disconnect at once), so "since the last durable
        // reading" is a window the test can bound with its own snapshots of the truth.
        try FileManager.default.createDirectory(atPath: h.config + ".d", withIntermediateDirectories: true)
        try "[metering]\nflush_interval = 2s\n".write(toFile: h.config + ".d/50-test.conf", atomically: true, encoding: .utf8)
        var daemon = try await start(h, scenario: Self.churnFaults, seed: 21)
        var random = SystemRandomNumberGenerator()
        // Each outage, from a snapshot taken well before the kill (older than the last durable
        // reading) to one taken once the restarted qlinkd reads hostapd and OpenBTS again, and
        // every subscriber's traffic over it.
        var outages: [(from: Double, to: Double, traffic: Usage)] = []
        for round in 0..<6 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 1000...4000, using: &random)))
            let before = try await truth(h)
            let from = try await simSeconds(h)
            try await Task.sleep(for: .milliseconds(3500))
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            try await Task.sleep(for: .milliseconds(Int.random(in: 200...2500, using: &random)))
            daemon = try await h.startDaemon(log: "qlinkd-\(round + 1)")
            try await h.waitFor("wifi and radio read again") {
                let status = (try? h.json(try await h.qlinkctl(["status", "--json"]).stdout) as? [String: Any]) ?? [:]
                return status["wifi"] as? String == "up" && status["radio"] as? String == "up"
            }
            try await Task.sleep(for: .seconds(1))  // a poll of each
            let after = try await truth(h)
            let to = try await simSeconds(h)
            var traffic: Usage = [:]
            for (id, bytes) in after {
                let was = before[id] ?? (0, 0)
                traffic[id] = (bytes.up - was.up, bytes.down - was.down)
            }
            outages.append((from, to, traffic))
        }
        try await Task.sleep(for: .seconds(4))
        try await finish(h, daemon)
        let real = try await truth(h)
        let metered = try await journal(h)
        _ = try await verify(h)   // expects exit 0: the hash chain and signatures hold, torn tails cut
        let sessions = try await endedSessions(h)
        // Kept with the test's directory (QLINK_KEEP_TEST_DIRS=1) to read a failure by.
        try await h.simctl(["sessions"]).stdout.write(toFile: h.root + "/sessions.jsonl", atomically: true, encoding: .utf8)
        try "\(outages.map { "\($0.from) \($0.to)" }.joined(separator: "\n"))\n".write(toFile: h.root + "/outages.txt", atomically: true, encoding: .utf8)

        // What a subscriber may lose: for each outage in which one of its sessions ended, its
        // traffic over that outage; for each UE session that OpenBTS took with it when it
        // stopped (no final counters from a dead process), that session's bytes (the backend
        // loses at most those after its last poll).
        var allowed: Usage = [:]
        var left: [String] = []
        for outage in outages {
            let ending = Set(sessions.filter { $0.ended >= outage.from && $0.ended <= outage.to }.map(\.id))
            for id in ending.sorted() {
                let traffic = outage.traffic[id] ?? (0, 0)
                allowed[id, default: (0, 0)].up += traffic.up
                allowed[id, default: (0, 0)].down += traffic.down
                left.append(id)
            }
        }
        for session in sessions where session.id.hasPrefix("imsi:") && session.cause == "source-stopped"
            && !outages.contains(where: { session.ended >= $0.from && session.ended <= $0.to }) {
            allowed[session.id, default: (0, 0)].up += session.up
            allowed[session.id, default: (0, 0)].down += session.down
        }
        var lost: [String] = []
        for (id, bytes) in real.sorted(by: { $0.key < $1.key }) {
            let seen = metered[id] ?? (0, 0)
            #expect(seen.up <= bytes.up && seen.down <= bytes.down, "\(id) counted over the truth: journal \(seen) truth \(bytes)")
            guard seen.up < bytes.up || seen.down < bytes.down else { continue }
            let missing = (up: bytes.up - min(seen.up, bytes.up), down: bytes.down - min(seen.down, bytes.down))
            let may = allowed[id] ?? (0, 0)
            #expect(missing.up <= may.up && missing.down <= may.down,
                    "\(id) lost \(missing) but only \(may) is explained by sessions that ended during an outage or with OpenBTS")
            lost.append("\(id) -\(missing.up) up -\(missing.down) down")
        }
        #expect(Set(metered.keys).isSubset(of: Set(real.keys)), "the journal names subscribers that never existed")
        let totalReal = real.values.reduce(UInt64(0)) { $0 + $1.up + $1.down }
        let totalLost = real.reduce(UInt64(0)) { sum, entry in
            let seen = metered[entry.key] ?? (0, 0)
            return sum + (entry.value.up - min(seen.up, entry.value.up)) + (entry.value.down - min(seen.down, entry.value.down))
        }
        print("kill -9 x6: \(real.count) subscribers, \(totalReal) bytes, \(totalLost) lost; sessions ended during the outages: \(Set(left).count)")
        print("kill -9 x6: lost: \(lost.isEmpty ? "none" : lost.joined(separator: "; "))")
    }
}
