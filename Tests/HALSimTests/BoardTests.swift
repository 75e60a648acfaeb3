import HAL
@testable import HALSim
import Logging
import Posix
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Collects the notices a world logs.
final class NoticeRecorder: Sendable {
    private let storage = Mutex<[WorldNotice]>([])
    var messages: [String] { storage.withLock { $0.map(\.message) } }
    func record(_ notices: [WorldNotice]) { storage.withLock { $0 += notices } }
}

/// The board's files (thermal zones, watchdog, front end) on a manual clock.
@Suite struct BoardTests {
    final class Harness: Sendable {
        let directory: TemporaryDirectory
        let world: World
        let files: BoardFiles
        let notices = NoticeRecorder()

        init(speed: Double = 1, trafficScale: Double = 1) throws {
            directory = try TemporaryDirectory()
            var scenario = Scenario.everyoneOnline(subscribers: 3, ues: 2)
            scenario.trafficScale = trafficScale
            world = World(configuration: WorldConfiguration(scenario: scenario, seed: 5, speed: speed))
            world.setNoticeSink(notices.record)
            files = BoardFiles(root: directory.path, world: world, logger: Logger(label: "test", handler: InMemoryLogHandler()))
            try files.create()
        }

        deinit { directory.cleanUp() }

        func read(_ relative: String) -> String? {
            (try? FileSystem.readFile("\(directory.path)/\(relative)")).map { String(decoding: $0, as: UTF8.self) }
        }

        /// A zone's temperature in millidegrees; the file must hold exactly one number and a newline.
        func temp(_ zone: Int) throws -> Int {
            let text = try #require(read("sys/class/thermal/thermal_zone\(zone)/temp"))
            #expect(text.hasSuffix("\n") && text.dropLast().allSatisfy(\.isNumber), "\(text)")
            return try #require(Int(text.dropLast()))
        }

        func step(_ seconds: Int) throws {
            for _ in 0..<seconds {
                world.advance(by: .seconds(1))
                try files.sync()
            }
        }
    }

    @Test func thermalZonesLookLikeSysfsAndFollowASpike() throws {
        let h = try Harness()
        defer { withExtendedLifetime(h) {} }
        for (zone, type) in [(0, "cpu-thermal"), (1, "pa-thermal")] {
            let base = "sys/class/thermal/thermal_zone\(zone)"
            #expect(h.read("\(base)/type") == type + "\n")
            #expect(h.read("\(base)/trip_point_0_temp") == "85000\n")
            #expect(h.read("\(base)/trip_point_0_type") == "passive\n")
            #expect((30_000...80_000).contains(try h.temp(zone)), "millidegrees of a plausible board")
            let names = try FileSystem.listDirectory("\(h.directory.path)/\(base)").sorted()
            #expect(names == ["temp", "trip_point_0_temp", "trip_point_0_type", "type"], "no temporary file is left behind")
        }
        let cool = try h.temp(0)
        #expect(try h.world.inject(.thermalSpike(seconds: 5)) == "thermal spike for 5s\n")
        try h.files.sync()
        #expect(try h.temp(0) >= 89_800 && h.temp(1) >= 89_800, "past the 85 °C trip point at once")
        #expect(try h.temp(0) >= cool + 29_000)
        #expect(h.notices.messages.contains { $0.hasPrefix("thermal: thermal_zone0 (cpu-thermal) reached its trip point") })
        try h.step(4)
        #expect(try h.temp(0) >= 89_800, "still hot after 4 of 5 s")
        try h.step(1)
        #expect(try h.temp(0) < 85_000 && h.temp(1) < 85_000, "back after the spike")
        #expect(h.notices.messages.contains { $0.hasPrefix("thermal: thermal_zone1 (pa-thermal) back below its trip point") })
        let status = try ControlServer(world: h.world, path: "\(h.directory.path)/ctl.sock", logger: Logger(label: "t", handler: InMemoryLogHandler())) { [] }
        defer { status.stop() }
        guard case .success(let json) = status.handle(["status"]) else { Issue.record("status failed"); return }
        #expect(json.contains("\"thermal\":{\"thermal_zone0\":"))
    }

    @Test func temperatureFollowsLoad() throws {
        let idle = try Harness(speed: 1, trafficScale: 0)
        defer { withExtendedLifetime(idle) {} }
        let busy = try Harness(speed: 100, trafficScale: 20)
        try idle.step(120)
        try busy.step(120)
        #expect(try busy.temp(0) > idle.temp(0) + 10_000, "the CPU zone follows the bytes moved")
        #expect(try busy.temp(1) > idle.temp(1) + 5_000, "the PA zone follows the UEs' traffic")
    }

    @Test func aReaderNeverSeesAPartialNumber() async throws {
        let h = try Harness(speed: 50, trafficScale: 10)
        defer { withExtendedLifetime(h) {} }
        let path = "\(h.directory.path)/sys/class/thermal/thermal_zone0/temp"
        let reader = Task.detached { () -> [String] in
            var bad: [String] = []
            for _ in 0..<3000 {
                let text = String(decoding: (try? FileSystem.readFile(path)) ?? [], as: UTF8.self)
                if !(text.count >= 5 && text.hasSuffix("\n") && text.dropLast().allSatisfy(\.isNumber)) { bad.append(text) }
            }
            return bad
        }
        for _ in 0..<300 {
            h.world.advance(by: .milliseconds(700))
            try h.files.sync()
        }
        #expect(await reader.value == [])
    }

    @Test func watchdogCountsKeepalivesAndReportsAMissedDeadline() throws {
        let h = try Harness()
        defer { withExtendedLifetime(h) {} }
        let path = h.files.watchdogPath
        #expect(h.read("dev/watchdog") == "", "created empty")
        // As the Linux backend: opened write-only (no O_APPEND), one byte per keepalive.
        var fd = try FileDescriptor.open(path, .writeOnly)
        try fd.writeAll([UInt8(ascii: "\n")])
        try h.files.sync()
        #expect(h.world.board().watchdog.keepalives == 1 && h.world.board().watchdog.armed)
        h.world.advance(by: .seconds(5))
        try fd.writeAll([UInt8(ascii: "\n")])
        try fd.writeAll([UInt8(ascii: "\n")])
        try h.files.sync()
        #expect(h.world.board().watchdog.keepalives == 3)
        #expect(h.world.board().watchdog.lastKeepalive == 5)
        try h.step(14)
        #expect(h.world.board().watchdog.missed == 0)
        try h.step(2)
        #expect(h.world.board().watchdog.missed == 1, "16 s after the last keepalive")
        #expect(h.notices.messages.contains { $0.hasPrefix("watchdog: no keepalive for 15s: deadline missed") })
        try h.step(30)
        #expect(h.world.board().watchdog.missed == 1, "one gap, one miss")
        // A restarted daemon writes from offset 0 again: same size, new mtime.
        fd.close()
        usleep(20_000)
        fd = try FileDescriptor.open(path, .writeOnly)
        try fd.writeAll([UInt8(ascii: "\n")])
        try h.files.sync()
        #expect(h.world.board().watchdog.keepalives == 4)
        try h.step(10)
        usleep(20_000)   // an overwrite of the same byte shows only in the mtime
        try fd.writeAll([UInt8(ascii: "\n")])
        try h.files.sync()
        #expect(h.world.board().watchdog.keepalives == 5 && h.world.board().watchdog.missed == 1)
        // The magic close: `V`, then close. Disarmed: no deadline any more.
        try fd.writeAll([UInt8(ascii: "V")])
        fd.close()
        try h.files.sync()
        let closed = h.world.board().watchdog
        #expect(closed.magicClose && !closed.armed && closed.keepalives == 5)
        #expect(h.notices.messages.contains { $0.hasPrefix("watchdog: magic close (V)") })
        try h.step(40)
        #expect(h.world.board().watchdog.missed == 1)
        // Keepalives again re-arm it.
        usleep(20_000)
        fd = try FileDescriptor.open(path, .writeOnly)
        defer { fd.close() }
        try fd.writeAll([UInt8(ascii: "\n")])
        try h.files.sync()
        #expect(h.world.board().watchdog.armed && h.world.board().watchdog.keepalives == 6)
        try h.step(16)
        #expect(h.world.board().watchdog.missed == 2)
    }

    @Test func frontEndPresenceFile() throws {
        let h = try Harness()
        defer { withExtendedLifetime(h) {} }
        #expect(h.read("frontend/present") == "05c6:9025\n")
        _ = try h.world.inject(.frontend(present: false))
        try h.files.sync()
        #expect(h.read("frontend/present") == nil)
        #expect(!h.world.status().radioUp)
        _ = try h.world.inject(.frontend(present: true))
        try h.files.sync()
        #expect(h.read("frontend/present") == "05c6:9025\n")
    }
}
