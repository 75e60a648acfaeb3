import HAL
@testable import HALSim
import Posix
import Testing

@Suite struct ScenarioTests {
    /// The repository root, from this file's path (Tests/HALSimTests/ScenarioTests.swift).
    static let repositoryRoot: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    @Test(arguments: BuiltinScenarios.names)
    func embeddedScenarioMatchesShippedFile(name: String) throws {
        let path = "\(Self.repositoryRoot)/hal-sim/scenarios/\(name).conf"
        let file = String(decoding: try FileSystem.readFile(path), as: UTF8.self)
        #expect(BuiltinScenarios.texts[name].map { $0 + "\n" } == file, "hal-sim/scenarios/\(name).conf differs from BuiltinScenarios in Scenario.swift")
        let scenario = try #require(try BuiltinScenarios.scenario(named: name))
        #expect(scenario.name == name)
    }

    @Test func builtinScenariosHaveTheDocumentedShape() throws {
        let busy = try #require(try BuiltinScenarios.scenario(named: "busy-day"))
        #expect(busy.subscribers == 24)
        #expect(busy.startOfDay == 17 * 3600)
        #expect(busy.meanSession == 45 * 60)
        #expect(busy.arrivalsPerHour == 30)
        let faults = try #require(try BuiltinScenarios.scenario(named: "faults"))
        #expect(faults.faults.first == ScheduledFault(at: 120, action: .hostapdRestart(downSeconds: 3)))
        #expect(faults.faults.contains(ScheduledFault(at: 300, every: 300, action: .counterReset(.random))))
        #expect(faults.faults.contains(ScheduledFault(at: 420, every: 420, action: .wrap32(.random, seconds: 12))))
        #expect(faults.faults.contains(ScheduledFault(at: 300, action: .radioRestart(downSeconds: 3))))
        #expect(faults.faults.contains(ScheduledFault(at: 720, action: .thermalSpike(seconds: 20))))
        #expect(faults.faults.contains(ScheduledFault(at: 1500, action: .frontend(present: false))))
        #expect(faults.ues == 6)
        #expect(busy.ues == 8)
        #expect(busy.position == .standard)
        #expect(try BuiltinScenarios.scenario(named: "no-such") == nil)
    }

    @Test func parsesEveryKey() throws {
        let text = """
            # a comment
            [world]
            subscribers = 5   # trailing comment
            ues = 0
            gps = -33.8688, 151.2093, 58
            start = 06:30:15
            session = 1h30m
            arrivals = 2/m
            traffic = 0.25
            reconnect = 500ms
            tide = 00:00 1, 12:00 0.5

            [faults]
            at = 90s hostapd-restart 7
            every = 10m wrap32 mac:02:00:00:00:00:01 5
            at = 2h wrap32 30
            at = 3h wrap32 random
            at = 1h counter-reset 02:00:00:00:00:02
            at = 4h radio-restart
            at = 5h radio-restart 7
            at = 6h thermal-spike 9
            at = 7h frontend-unplug
            at = 8h frontend-plug
            at = 9h gps-lost
            at = 10h gps-fix
            """
        let s = try Scenario.parse(text, file: "x.conf", name: "x")
        #expect(s.subscribers == 5)
        #expect(s.startOfDay == 6 * 3600 + 30 * 60 + 15)
        #expect(s.meanSession == 5400)
        #expect(s.arrivalsPerHour == 120)
        #expect(s.trafficScale == 0.25)
        #expect(s.reconnectDelay == 0.5)
        #expect(s.tide.level(at: 6 * 3600) == 0.75)
        let mac1 = SubscriberID.mac(MACAddress("02:00:00:00:00:01")!)
        #expect(s.faults == [
            ScheduledFault(at: 90, action: .hostapdRestart(downSeconds: 7)),
            ScheduledFault(at: 600, every: 600, action: .wrap32(.subscriber(mac1), seconds: 5)),
            ScheduledFault(at: 7200, action: .wrap32(.all, seconds: 30)),
            ScheduledFault(at: 10800, action: .wrap32(.random, seconds: 12)),
            ScheduledFault(at: 3600, action: .counterReset(.subscriber(.mac(MACAddress("02:00:00:00:00:02")!)))),
            ScheduledFault(at: 14400, action: .radioRestart(downSeconds: 3)),
            ScheduledFault(at: 18000, action: .radioRestart(downSeconds: 7)),
            ScheduledFault(at: 21600, action: .thermalSpike(seconds: 9)),
            ScheduledFault(at: 25200, action: .frontend(present: false)),
            ScheduledFault(at: 28800, action: .frontend(present: true)),
            ScheduledFault(at: 32400, action: .gps(fix: false)),
            ScheduledFault(at: 36000, action: .gps(fix: true)),
        ])
        #expect(s.ues == 0)
        #expect(s.position == GPSPosition(latitude: -33.8688, longitude: 151.2093, altitude: 58))
    }

    @Test(arguments: [
        ("[world]\nsubscribers = many\n", 2, "subscribers must be"),
        ("[world]\n\n# c\nsession = 10\n", 4, "session must be a duration"),
        ("subscribers = 3\n", 1, "outside a section"),
        ("[world]\ncolour = blue\n", 2, "unknown key 'colour'"),
        ("[weather]\n", 1, "unknown section"),
        ("[world]\nstart = 25:00\n", 2, "start must be a time of day"),
        ("[world]\nsubscribers = 2\nsubscribers = 3\n", 3, "given twice"),
        ("[world]\ntide = 00:00 0, 12:00 1\n", 2, "levels above 0"),
        ("[faults]\nat = soon hostapd-restart\n", 2, "needs a duration"),
        ("[faults]\nat = 1m explode\n", 2, "unknown fault 'explode'"),
        ("[faults]\nat = 1m wrap32 all 0\n", 2, "unknown fault 'wrap32 all 0'"),
        ("[faults]\nat = 1m wrap32 all 5 6\n", 2, "unknown fault"),
        ("[faults]\nat = 1m counter-reset all 5\n", 2, "unknown fault"),
        ("[world]\nsubscribers\n", 2, "expected 'key = value'"),
        ("[world]\nues = -1\n", 2, "ues must be"),
        ("[world]\ngps = 95, 10\n", 2, "gps must be"),
        ("[world]\ngps = 52.5\n", 2, "gps must be"),
        ("[faults]\nat = 1m radio-restart soon\n", 2, "unknown fault"),
        ("[faults]\nat = 1m thermal-spike 0\n", 2, "unknown fault"),
        ("[faults]\nat = 1m frontend-unplug now\n", 2, "unknown fault"),
    ])
    func errorsNameFileAndLine(text: String, line: Int, message: String) {
        #expect {
            try Scenario.parse(text, file: "dir/bad.conf", name: "bad")
        } throws: { error in
            guard let error = error as? ScenarioError else { return false }
            return error.line == line && error.file == "dir/bad.conf"
                && error.description.hasPrefix("dir/bad.conf:\(line): ") && error.message.contains(message)
        }
    }

    @Test func durationsAndTimes() {
        #expect(parseDuration("90s") == 90)
        #expect(parseDuration("1h30m") == 5400)
        #expect(parseDuration("250ms") == 0.25)
        #expect(parseDuration("2d") == 172_800)
        #expect(parseDuration("10") == nil)
        #expect(parseDuration("5x") == nil)
        #expect(parseDuration("") == nil)
        #expect(parseTimeOfDay("23:59") == 86_340)
        #expect(parseTimeOfDay("7:00") == nil)
        #expect(parseTimeOfDay("12:60") == nil)
    }

    @Test func tideIntegralAndItsInverseAgree() throws {
        let tide = Tide.standard
        #expect(tide.cumulative(0) == 0)
        #expect(abs(tide.cumulative(Tide.day) - tide.dailyIntegral) < 1e-6)
        for t in stride(from: 0.0, through: 3 * Tide.day, by: 3_917) {
            let back = tide.time(atCumulative: tide.cumulative(t))
            #expect(abs(back - t) < 1e-6, "t=\(t) came back as \(back)")
        }
        #expect(tide.level(at: 20 * 3600) == 1.0)
        #expect(tide.level(at: 3 * 3600 + Tide.day) == 0.05)
        #expect(Tide(knots: []) == nil)
        #expect(Tide(knots: [(100, 1), (100, 2)]) == nil)
    }
}
