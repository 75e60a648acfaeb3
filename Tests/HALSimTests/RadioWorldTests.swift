import HAL
@testable import HALSim
import Testing

/// The UEs in the world: the same tide as the stations, IMSIs, MS records, scheduled radio faults.
@Suite struct RadioWorldTests {
    @Test func uesFollowTheTideAndTruthListsThemAsLTE() throws {
        let world = try WorldTests.busyDay(seed: 11, speed: 60)
        #expect(world.imsis().count == 8)
        for imsi in world.imsis() {
            #expect(imsi.count == 15 && imsi.hasPrefix("00101") && imsi.allSatisfy(\.isNumber))
        }
        #expect(Set(world.imsis()).count == 8)
        var attachedCounts: Set<Int> = []
        for _ in 0..<360 {   // six simulated hours at speed 60
            world.advance(by: .seconds(1))
            attachedCounts.insert(world.status().uesAttached)
        }
        #expect(attachedCounts.count > 2, "UEs attach and leave on the schedule")
        let ended = world.sessionHistory().filter { $0.id.kind == "lte" }
        #expect(ended.count > 3, "some UE sessions ended")
        let truth = world.truth().filter { $0.id.kind == "lte" }
        #expect(truth.count >= 6)
        #expect(truth.allSatisfy { $0.downBytes > 0 && $0.id.description.hasPrefix("imsi:00101") })
        #expect(TruthFormat.json(truth).contains(#""kind":"lte""#))
        // UEs keep their schedule whatever the Wi-Fi population: their streams are their own.
        let smaller = World(configuration: WorldConfiguration(scenario: world.configuration.scenario, seed: 11, speed: 60, subscribers: 5))
        #expect(smaller.imsis() == world.imsis())
    }

    @Test func uesAreOnTheirOwnRandomStreams() throws {
        let scenario = try #require(try BuiltinScenarios.scenario(named: "busy-day"))
        let with = World(configuration: WorldConfiguration(scenario: scenario, seed: 2, speed: 60))
        let without = World(configuration: WorldConfiguration(scenario: scenario, seed: 2, speed: 60, ues: 0))
        with.advance(120, of: .seconds(1))
        without.advance(120, of: .seconds(1))
        #expect(with.truth().filter { $0.id.kind == "wifi" } == without.truth(), "adding UEs changes no station's schedule")
        #expect(without.imsis().isEmpty)
    }

    @Test func ageAndConnectedTimeAreRealSeconds() {
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: 1, ues: 1), seed: 1, speed: 60))
        world.advance(30, of: .seconds(1))
        #expect(world.ues().first?.ageSeconds == 30, "30 real seconds, though 30 simulated minutes passed")
        #expect(world.stations().first?.connectedSeconds == 30)
        #expect(world.status().simSeconds == 1800)
    }

    @Test func recordsSumToTheSessionAndTheSecondOneTakesOver() {
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: 0 + 1, ues: 16), seed: 9, speed: 1))
        world.advance(100, of: .seconds(1))
        let ues = world.ues()
        #expect(ues.contains { $0.records.count == 2 } && ues.contains { $0.records.count == 1 })
        for ue in ues {
            #expect(ue.records.reduce(0) { $0 + $1.upBytes } == ue.exactUpBytes)
            #expect(ue.records.reduce(0) { $0 + $1.downBytes } == ue.exactDownBytes)
            if ue.records.count == 2 {
                #expect(ue.records[0].oldTLLI == nil && ue.records[0].tlli >> 27 == 0x0F, "a random TLLI first")
                #expect(ue.records[1].tlli == ue.tlli && ue.records[1].oldTLLI == ue.records[0].tlli && ue.tlli >> 30 == 3)
            } else {
                #expect(ue.records[0].tlli == ue.tlli && ue.records[0].oldTLLI != nil)
            }
        }
        let frozen = ues.filter { $0.records.count == 2 }.map(\.records[0])
        world.advance(10, of: .seconds(1))
        #expect(world.ues().filter { $0.records.count == 2 }.map(\.records[0]) == frozen, "the first record stops counting")
        #expect(Set(ues.map(\.ip)).count == ues.count && ues.allSatisfy { $0.ip.hasPrefix("192.168.99.") })
    }

    @Test func aDetachedUEsRecordsStayListedDeregisteredUntilIdleTooLong() throws {
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: 0, ues: 1), seed: 3, speed: 1))
        world.advance(20, of: .seconds(1))
        let ue = try #require(world.ues().first)
        world.perform { s in s.detach(0, why: .left) }   // its own GMM Detach Request
        let truth = try #require(world.truth().first)
        let listed = world.openBTS("gprs list ms", wallSeconds: 0)
        let record = try #require(ue.records.last)
        #expect(listed.contains("MS#\(record.debugID),"))
        #expect(listed.contains("Bytes:\(truth.upBytes)up/\(truth.downBytes)down"), "the record's bytes are final: \(listed)")
        #expect(listed.contains("imsi=\(ue.imsi)") && listed.contains("state=GmmDeregistered"))
        #expect(world.openBTS("sgsn list", wallSeconds: 0).contains("state=GmmDeregistered"))
        #expect(world.openBTS("sgsn free imsi \(ue.imsi)", wallSeconds: 0) == "", "the deregistered context is freed")
        let freed = world.openBTS("gprs list ms", wallSeconds: 0)
        #expect(freed.contains("MS#\(record.debugID),") && !freed.contains("GMM Context"), "the record stays, without a context: \(freed)")
        world.advance(599, of: .seconds(1))
        #expect(world.openBTS("gprs list ms", wallSeconds: 0).contains("MS#\(record.debugID),"))
        world.advance(2, of: .seconds(1))
        #expect(!world.openBTS("gprs list ms", wallSeconds: 0).contains("MS#\(record.debugID),"), "forgotten after GPRS.Timers.MS.Idle")
    }

    @Test func scheduledRadioAndBoardFaultsFire() throws {
        var scenario = Scenario.everyoneOnline(subscribers: 1, ues: 2)
        scenario.faults = [
            ScheduledFault(at: 10, action: .radioRestart(downSeconds: 3)),
            ScheduledFault(at: 20, action: .thermalSpike(seconds: 5)),
            ScheduledFault(at: 30, action: .gps(fix: false)),
            ScheduledFault(at: 40, action: .frontend(present: false)),
            ScheduledFault(at: 50, action: .frontend(present: true)),
        ]
        let world = World(configuration: WorldConfiguration(scenario: scenario, seed: 1, speed: 1))
        let notices = NoticeRecorder()
        world.setNoticeSink(notices.record)
        world.advance(10, of: .seconds(1))
        #expect(!world.status().radioUp && world.ues().isEmpty)
        world.advance(10, of: .seconds(1))
        #expect(world.status().radioUp && world.ues().count == 2)
        #expect(world.board().zones.allSatisfy { $0.milliCelsius >= 89_800 })
        world.advance(10, of: .seconds(1))
        #expect(!world.board().gpsFix)
        world.advance(10, of: .seconds(1))
        #expect(!world.board().frontendPresent && !world.status().radioUp)
        world.advance(15, of: .seconds(1))
        #expect(world.board().frontendPresent && world.status().radioUp)
        #expect(notices.messages.contains("radio: OpenBTS terminated; back in 3s"))
        #expect(notices.messages.contains("gps: fix lost"))
        #expect(notices.messages.contains("front end unplugged"))
    }
}
