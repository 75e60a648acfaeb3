import Foundation
import Testing

/// qlinkd against hal-sim, checked against hal-sim's ground truth: with nobody leaving,
/// every byte a subscriber moved must show up in `qlinkctl subscribers`, exactly once,
/// across 32-bit wraps, silent counter resets and a hostapd restart.
@Suite(.serialized) struct MeteringAccuracyTests {
    static let steadyScenario = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Scenarios/steady.conf").path

    typealias Usage = [String: (up: UInt64, down: UInt64)]

    func truth(_ h: Harness) throws -> Usage {
        let result = try h.simctl(["truth", "--json"])
        guard result.status == 0, let rows = try h.json(result.stdout) as? [[String: Any]] else {
            throw HarnessError("truth failed: \(result)")
        }
        return try usage(rows)
    }

    func metered(_ h: Harness) throws -> Usage {
        let result = try h.qlinkctl(["subscribers", "--json"])
        guard result.status == 0, let rows = try h.json(result.stdout) as? [[String: Any]] else {
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

    func connected(_ h: Harness) throws -> Int {
        let status = try h.qlinkctl(["status", "--json"])
        return (try h.json(status.stdout) as? [String: Any])?["subscribers"] as? Int ?? -1
    }

    func wifiState(_ h: Harness) throws -> String {
        let status = try h.qlinkctl(["status", "--json"])
        return (try? h.json(status.stdout) as? [String: Any])?["wifi"] as? String ?? "?"
    }

    /// Freezes the world and waits until qlinkd's totals stop moving, then compares with the truth.
    func expectMeteredEqualsTruth(_ h: Harness, _ moment: String) throws {
        #expect(try h.simctl(["inject", "pause"]).status == 0)
        var previous = try metered(h)
        try h.waitFor("totals to settle (\(moment))") {
            usleep(1_200_000)  // more than one poll interval (1 s)
            let current = try metered(h)
            defer { previous = current }
            return current.mapValues { [$0.up, $0.down] } == previous.mapValues { [$0.up, $0.down] }
        }
        let real = try truth(h)
        let seen = try metered(h)
        #expect(!real.isEmpty)
        #expect(Set(seen.keys) == Set(real.keys), "\(moment): subscribers differ")
        for (id, real) in real {
            let seen = seen[id]
            #expect(seen?.up == real.up && seen?.down == real.down,
                    "\(moment): \(id) metered \(String(describing: seen)) but moved \(real)")
        }
        #expect(try h.simctl(["inject", "resume"]).status == 0)
    }

    @Test func everyByteIsCountedOnceAcrossWrapsResetsAndRestarts() throws {
        let h = try Harness("accuracy")
        try h.startSimulator(["--scenario", Self.steadyScenario, "--seed", "7", "--speed", "20"])
        try h.startDaemon()
        try h.waitFor("8 subscribers connected") { try connected(h) == 8 }
        usleep(3_000_000)
        try expectMeteredEqualsTruth(h, "steady traffic")

        // A burst carries every station's 32-bit counters past 2^32 within 4 s (1.1 GiB a poll).
        #expect(try h.simctl(["inject", "wrap32", "all", "4"]).status == 0)
        usleep(5_500_000)
        try expectMeteredEqualsTruth(h, "after wrap32")

        // The driver zeroes its counters without telling anyone.
        #expect(try h.simctl(["inject", "pause"]).status == 0)
        usleep(2_500_000)
        #expect(try h.simctl(["inject", "counter-reset"]).status == 0)
        #expect(try h.simctl(["inject", "resume"]).status == 0)
        usleep(3_000_000)
        try expectMeteredEqualsTruth(h, "after a silent counter reset")

        // hostapd goes away and comes back; every station reassociates from zero.
        #expect(try h.simctl(["inject", "pause"]).status == 0)
        usleep(2_500_000)
        #expect(try h.simctl(["inject", "hostapd-restart", "2"]).status == 0)
        try h.waitFor("wifi degraded") { try wifiState(h) == "degraded" }
        try h.waitFor("wifi back up") { try wifiState(h) == "up" }
        #expect(try h.simctl(["inject", "resume"]).status == 0)
        try h.waitFor("8 subscribers back") { try connected(h) == 8 }
        usleep(3_000_000)
        try expectMeteredEqualsTruth(h, "after a hostapd restart")
    }
}
