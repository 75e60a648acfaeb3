import Foundation
import HAL
import HALLinux
import Logging
import Posix
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `GPSDClient` against the real gpsd 3.22, fed by `gpsfake` from an NMEA log the test writes
/// with today's date (old dates hit the GPS week rollover). gpsd or gpsfake missing fails the
/// test (board/install-deps.sh test installs them); it never skips.
@Suite("GPSDClient against real gpsd", .serialized)
struct GPSDPeerTests {
    static let logger = Logger(label: "gpsd-peer", level: .critical)
    static let timing = GPSDTiming(connectTimeout: .seconds(1), probeInterval: .seconds(2), probeTimeout: .seconds(2),
                                   fixStaleAfter: .seconds(5), initialBackoff: .milliseconds(100), maximumBackoff: .milliseconds(500))
    /// Berlin, 34 m above sea level.
    static let latitude = 52.52, longitude = 13.405

    /// gpsfake + gpsd on a free loopback port, with their control socket in a temp directory.
    final class Feed: @unchecked Sendable {
        let cleanup = Cleanup()
        let directory: String
        let port: UInt16
        let gpsfake: String
        private var runs = 0
        private(set) var process: PeerProcess?

        init(fix: Bool) throws {
            _ = try PeerTool.require("gpsd", package: "gpsd")
            gpsfake = try PeerTool.require("gpsfake", package: "gpsd-clients")
            directory = try makeTemporaryDirectory("qlt-gpsd", cleanup: cleanup)
            let probe = try TCPSocket.listen(host: "127.0.0.1", port: 0)
            port = probe.localPort ?? 0
            probe.close()
            try GPSDPeerTests.nmeaLog(fix: fix, seconds: 60).write(toFile: directory + "/log.nmea", atomically: true, encoding: .ascii)
        }

        /// Starts (or restarts) gpsfake; `env` sets TMPDIR and execs it, so the PID is gpsfake's.
        func start() throws {
            runs += 1
            let process = try PeerProcess("/usr/bin/env", ["TMPDIR=\(directory)", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                                           gpsfake, "-P", "\(port)", "-c", "0.2", "-q", directory + "/log.nmea"],
                                          logPath: directory + "/gpsfake.\(runs).log")
            cleanup.add { process.stop() }
            self.process = process
        }

        func stop() { process?.stop() }

        var logs: String { process?.logTail() ?? "" }
    }

    /// RMC + GGA pairs one second apart from now, at the test position, or with no fix
    /// (RMC status V, GGA quality 0), with correct checksums.
    static func nmeaLog(fix: Bool, seconds: Int) -> String {
        let start = Int(Date().timeIntervalSince1970)
        var lines: [String] = []
        for offset in 0..<seconds {
            var time = time_t(start + offset)
            var parts = tm()
            gmtime_r(&time, &parts)
            let hms = String(format: "%02d%02d%02d.00", parts.tm_hour, parts.tm_min, parts.tm_sec)
            let dmy = String(format: "%02d%02d%02d", parts.tm_mday, parts.tm_mon + 1, parts.tm_year % 100)
            let body = fix
                ? ["GPRMC,\(hms),A,5231.2000,N,01324.3000,E,0.0,0.0,\(dmy),,,A", "GPGGA,\(hms),5231.2000,N,01324.3000,E,1,08,0.9,34.0,M,0.0,M,,"]
                : ["GPRMC,\(hms),V,,,,,,,\(dmy),,,N", "GPGGA,\(hms),,,,,0,00,99.99,,,,,,"]
            lines += body.map { "$\($0)*\(checksum($0))" }
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func checksum(_ body: String) -> String {
        String(format: "%02X", body.utf8.reduce(UInt8(0), ^))
    }

    @Test func theChecksumsAreNMEAs() {
        #expect(Self.checksum("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") == "47")
    }

    @Test func aFixFromGpsfakeReachesTheClient() async throws {
        let feed = try Feed(fix: true)
        defer { feed.cleanup.run() }
        try feed.start()
        let client = GPSDClient(port: feed.port, logger: Self.logger, timing: Self.timing)
        let log = BoardEventLog()
        let runner = Task { try await client.run(events: log.sink) }
        defer { runner.cancel() }

        // The first TPV may be 2D (gpsd has the RMC, not yet the GGA); the 3D one follows.
        let gotFix = await eventually(within: 20) { client.status.hasFix && client.status.fix?.mode == .threeD }
        #expect(gotFix, "no 3D fix from gpsd: \(client.status)\n\(feed.logs)")
        guard gotFix, let fix = client.status.fix else { return }
        #expect(fix.mode == .threeD)
        #expect(abs((fix.latitude ?? 0) - Self.latitude) < 1e-4)
        #expect(abs((fix.longitude ?? 0) - Self.longitude) < 1e-4)
        #expect(abs((fix.altitude ?? 0) - 34) < 0.5)
        #expect(fix.source.hasPrefix("gpsd 127.0.0.1:\(feed.port) /dev/"))
        #expect(client.status.link == .up)
        #expect(log.events.contains { if case .gpsFix(let f) = $0 { f.mode == .threeD } else { false } })
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(fix.time.map { $0.hasPrefix("\(year)-") || $0.hasPrefix("\(year + 1)-") } != false, "time: \(fix.time ?? "none")")
    }

    @Test func noFixFromGpsfakeIsAClearStateNotAHang() async throws {
        let feed = try Feed(fix: false)
        defer { feed.cleanup.run() }
        try feed.start()
        let client = GPSDClient(port: feed.port, logger: Self.logger, timing: Self.timing)
        let log = BoardEventLog()
        let runner = Task { try await client.run(events: log.sink) }
        defer { runner.cancel() }

        let sawNoFix = await eventually(within: 20) { client.status.problem?.contains("TPV mode 1") == true }
        #expect(sawNoFix, "status: \(client.status)\n\(feed.logs)")
        try await Task.sleep(for: .seconds(1))
        #expect(client.status.link == .up)
        #expect(!client.status.hasFix)
        #expect(client.status.fix?.mode == GPSFixMode.none)
        #expect(client.status.lastPosition == nil)
        #expect(!log.names.contains("gps-fix"))
        let started = ContinuousClock.now
        runner.cancel()
        try await runner.value
    }

    @Test func gpsdStoppingMeansDegradedAndReconnectAttemptsThenRestored() async throws {
        let feed = try Feed(fix: true)
        defer { feed.cleanup.run() }
        try feed.start()
        let client = GPSDClient(port: feed.port, logger: Self.logger, timing: Self.timing)
        let log = BoardEventLog()
        let runner = Task { try await client.run(events: log.sink) }
        defer { runner.cancel() }
        #expect(await eventually(within: 20) { client.status.hasFix }, "no fix: \(client.status)\n\(feed.logs)")

        feed.stop()
        #expect(await log.wait(timeout: .seconds(10)) { $0.contains { $0.name == "degraded" } }, "events: \(log.names)")
        #expect(log.names.contains("gps-no-fix"))
        #expect(client.status.link == .degraded)
        #expect(!client.status.hasFix)
        #expect(client.status.lastPosition?.hasPosition == true, "the last position is kept")
        let retrying = await eventually(within: 5) { client.status.problem?.contains("Connection refused") == true }
        #expect(retrying, "status: \(client.status)")

        try feed.start()
        #expect(await log.wait(timeout: .seconds(20)) { $0.contains { $0.name == "restored" } }, "events: \(log.names)\n\(feed.logs)")
        #expect(await eventually(within: 20) { client.status.hasFix }, "no fix after restart: \(client.status)")
        #expect(log.names.filter { $0 == "degraded" }.count == 1, "one outage, one degraded: \(log.names)")

        let started = ContinuousClock.now
        runner.cancel()
        try await runner.value
    }
}

/// Collects a board backend's events (peer tests cannot see HALLinuxTests' helpers).
final class BoardEventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [BoardEvent] = []

    var sink: BoardEventSink { { [self] event in lock.withLock { stored.append(event) } } }
    var events: [BoardEvent] { lock.withLock { stored } }
    var names: [String] { events.map(\.name) }

    func wait(timeout: Duration, _ condition: ([BoardEvent]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(events) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(events)
    }
}
