import Foundation
import Testing

/// qlinkd against hal-sim, checked against hal-sim's ground truth: with nobody leaving,
/// every byte a subscriber moved must show up in `qlinkctl subscribers`, exactly once,
/// across 32-bit wraps, silent counter resets and a hostapd restart.
@Suite(.serialized) struct MeteringAccuracyTests {
    static let steadyScenario = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Scenarios/steady.conf").path

    typealias Usage = [String: (up: UInt64, down: UInt64)]

    func truth(_ h: Harness) async throws -> Usage {
        let result = try await h.simctl(["truth", "--json"])
        guard result.status == 0, let rows = try await h.json(result.stdout) as? [[String: Any]] else {
            throw HarnessError("truth failed: \(result)")
        }
        return try usage(rows)
    }

    func metered(_ h: Harness) async throws -> Usage {
        let result = try await h.qlinkctl(["subscribers", "--json"])
        guard result.status == 0, let rows = try await h.json(result.stdout) as? [[String: Any]] else {
            throw HarnessError("subscribers failed: \(result)")
        }
        return try usage(rows)
    }

    func usage(_ rows: [[String: Any]]) throws -> Usage {
        var usage: Usage = [:]
        for row in rows {
            guard let id = row["id"] as? String, let up = (row["up_bytes"] as? NSNumber)?.uint64Value,
                  let down = (row["down_bytes"] as? NSNumber)?.uint64Value else { throw HarnessError("bad row \(row)") }
            usage[id] = (up, down)
        }
        return usage
    }

    func connected(_ h: Harness) async throws -> Int {
        let status = try await h.qlinkctl(["status", "--json"])
        return (try await h.json(status.stdout) as? [String: Any])?["subscribers"] as? Int ?? -1
    }

    func wifiState(_ h: Harness) async throws -> String {
        let status = try await h.qlinkctl(["status", "--json"])
        return (try? h.json(status.stdout) as? [String: Any])?["wifi"] as? String ?? "?"
    }

    /// Freezes the world and waits until qlinkd's totals stop moving, then compares with the truth.
    func expectMeteredEqualsTruth(_ h: Harness, _ moment: String) async throws {
        #expect(try await h.simctl(["inject", "pause"]).status == 0)
        var previous = try await metered(h)
        try await h.waitFor("totals to settle (\(moment))") {
            try await Task.sleep(for: .milliseconds(1200))  // more than one poll interval (1 s)
            let current = try await metered(h)
            defer { previous = current }
            return current.mapValues { [$0.up, $0.down] } == previous.mapValues { [$0.up, $0.down] }
        }
        let real = try await truth(h)
        let seen = try await metered(h)
        #expect(!real.isEmpty)
        #expect(Set(seen.keys) == Set(real.keys), "\(moment): subscribers differ")
        for (id, real) in real {
            let seen = seen[id]
            #expect(seen?.up == real.up && seen?.down == real.down,
                    "\(moment): \(id) metered \(String(describing: seen)) but moved \(real)")
        }
        #expect(try await h.simctl(["inject", "resume"]).status == 0)
    }

    @Test func everyByteIsCountedOnceAcrossWrapsResetsAndRestarts() async throws {
        let h = try Harness("accuracy")
        try await h.startSimulator(["--scenario", Self.steadyScenario, "--seed", "7", "--speed", "20"])
        try await h.startDaemon()
        try await h.waitFor("8 subscribers connected") { try await connected(h) == 8 }
        try await Task.sleep(for: .milliseconds(3000))
        try await expectMeteredEqualsTruth(h, "steady traffic")

        // A burst carries every station's 32-bit counters past 2^32 within 4 s (1.1 GiB a poll).
        #expect(try await h.simctl(["inject", "wrap32", "all", "4"]).status == 0)
        try await Task.sleep(for: .milliseconds(5500))
        try await expectMeteredEqualsTruth(h, "after wrap32")

        // The driver zeroes its counters without telling anyone.
        #expect(try await h.simctl(["inject", "pause"]).status == 0)
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await h.simctl(["inject", "counter-reset"]).status == 0)
        #expect(try await h.simctl(["inject", "resume"]).status == 0)
        try await Task.sleep(for: .milliseconds(3000))
        try await expectMeteredEqualsTruth(h, "after a silent counter reset")

        // hostapd goes away and comes back; every station reassociates from zero.
        #expect(try await h.simctl(["inject", "pause"]).status == 0)
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await h.simctl(["inject", "hostapd-restart", "2"]).status == 0)
        try await h.waitFor("wifi degraded") { try await wifiState(h) == "degraded" }
        try await h.waitFor("wifi back up") { try await wifiState(h) == "up" }
        #expect(try await h.simctl(["inject", "resume"]).status == 0)
        try await h.waitFor("8 subscribers back") { try await connected(h) == 8 }
        try await Task.sleep(for: .milliseconds(3000))
        try await expectMeteredEqualsTruth(h, "after a hostapd restart")
    }
}
