import HAL
@testable import HALSim
import Posix
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct WorldTests {
    static func busyDay(seed: UInt64 = 7, speed: Double = 60, width: CounterWidth = .bits32) throws -> World {
        let scenario = try #require(try BuiltinScenarios.scenario(named: "busy-day"))
        return World(configuration: WorldConfiguration(scenario: scenario, seed: seed, speed: speed, counterWidth: width))
    }

    static func stable(width: CounterWidth = .bits32, subscribers: Int = 3) -> World {
        World(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: subscribers), seed: 3, speed: 1, counterWidth: width))
    }

    @Test func truthIsTheSumOverAllSessions() throws {
        let world = try Self.busyDay()
        world.advance(360, of: .seconds(1))   // six simulated hours, through the evening peak
        let history = world.sessionHistory()
        #expect(history.count > 10, "the schedule should have ended some sessions")
        let current = world.stations().filter(\.associated)
        let ues = world.ues()
        let truth = world.truth()
        #expect(!truth.isEmpty)
        #expect(truth.contains { $0.id.kind == "lte" } && truth.contains { $0.id.kind == "wifi" })
        for entry in truth {
            let ended = history.filter { $0.id == entry.id }
            let live = current.filter { SubscriberID.mac($0.mac) == entry.id }
            let attached = ues.filter { SubscriberID.imsi($0.imsi) == entry.id }
            #expect(entry.upBytes == ended.reduce(0) { $0 + $1.upBytes } + live.reduce(0) { $0 + $1.exactUpBytes }
                + attached.reduce(0) { $0 + $1.exactUpBytes })
            #expect(entry.downBytes == ended.reduce(0) { $0 + $1.downBytes } + live.reduce(0) { $0 + $1.exactDownBytes }
                + attached.reduce(0) { $0 + $1.exactDownBytes })
        }
        #expect(truth.reduce(0) { $0 + $1.downBytes } > 1_000_000_000, "six busy hours should move gigabytes")
        #expect(truth == truth.sorted { $0.id < $1.id })
    }

    @Test func scheduleDoesNotDependOnTickSize() throws {
        let fine = try Self.busyDay(speed: 10)
        let coarse = try Self.busyDay(speed: 10)
        let fineEvents = EventRecorder(), coarseEvents = EventRecorder()
        fine.setEventSink(fineEvents.record)
        coarse.setEventSink(coarseEvents.record)
        fine.advance(2_000, of: .milliseconds(100))
        coarse.advance(40, of: .seconds(5))
        #expect(fineEvents.messages == coarseEvents.messages)
        #expect(!fineEvents.messages.isEmpty)
        let a = fine.truth(), b = coarse.truth()
        #expect(a.map(\.id) == b.map(\.id))
        for (x, y) in zip(a, b) {
            // Only the last partial step may round differently.
            #expect(x.downBytes.distance(to: y.downBytes).magnitude <= 2)
            #expect(x.upBytes.distance(to: y.upBytes).magnitude <= 2)
        }
    }

    @Test func seedChoosesTheSubscribers() throws {
        #expect(subscriberMACs(seed: 1, subscribers: 24) == subscriberMACs(seed: 1, subscribers: 24))
        #expect(subscriberMACs(seed: 1, subscribers: 24) != subscriberMACs(seed: 2, subscribers: 24))
        #expect(Set(subscriberMACs(seed: 5, subscribers: 500)).count == 500)
        #expect(subscriberMACs(seed: 9, subscribers: 50).allSatisfy { $0.bytes[0] == 0x02 })
    }

    @Test func overridingThePopulationKeepsEachSubscribersHabits() throws {
        let scenario = try #require(try BuiltinScenarios.scenario(named: "busy-day"))
        let base = WorldState(configuration: WorldConfiguration(scenario: scenario), pskLoader: nil)
        let double = WorldState(configuration: WorldConfiguration(scenario: scenario, subscribers: 48), pskLoader: nil)
        #expect(double.subscribers.filter { !$0.isLTE }.count == 48)
        #expect(double.subscribers.filter(\.isLTE).count == 8, "busy-day says ues = 8")
        let third = WorldState(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: 3)), pskLoader: nil)
        #expect(third.subscribers.count == 3)
        var noUEs = scenario
        noUEs.ues = nil
        #expect(WorldConfiguration(scenario: noUEs, subscribers: 30).ues == 10, "a third of the Wi-Fi population by default")
        #expect(WorldConfiguration(scenario: noUEs, subscribers: 30, ues: 2).ues == 2)
        #expect(double.arrivalRate == base.arrivalRate)
        #expect(base.arrivalRate == 30.0 / 3600 / 24)
    }

    @Test func pauseFreezesEverything() throws {
        let world = try Self.busyDay()
        world.advance(10, of: .seconds(1))
        world.pause()
        let truth = world.truth(), stations = world.stations().frozen, status = world.status(), ues = world.ues()
        let recorder = EventRecorder()
        world.setEventSink(recorder.record)
        world.advance(600, of: .seconds(1))   // ten simulated hours would pass if not paused
        #expect(world.truth() == truth)
        #expect(world.stations().frozen == stations)
        #expect(world.ues().map(\.records) == ues.map(\.records))
        #expect(world.stations().first.map { $0.connectedSeconds >= 600 } == true, "connected_time is real time: it runs on while paused")
        #expect(world.status().simSeconds == status.simSeconds)
        #expect(world.status().paused)
        #expect(recorder.events.isEmpty)
        world.resume()
        world.advance(by: .seconds(1))
        #expect(world.status().simSeconds == status.simSeconds + 60)
        #expect(world.truth() != truth)
    }

    static let wrap = UInt64(1) << 32

    /// What the driver adds to the exact counts (nonzero after a counter reset), read back
    /// from a snapshot: reported = (exact + offset) mod 2^32.
    static func offsets(_ station: StationSnapshot) -> (up: UInt64, down: UInt64) {
        (station.rxBytes &- station.exactUpBytes, station.txBytes &- station.exactDownBytes)
    }

    /// Whether both byte counters went past 2^32 since `then` (the exact bytes moved carried
    /// them over the top), and now read small again.
    static func wrapped(_ now: StationSnapshot, since then: StationSnapshot) -> Bool {
        now.exactUpBytes - then.exactUpBytes >= wrap - then.rxBytes && now.exactDownBytes - then.exactDownBytes >= wrap - then.txBytes
            && now.rxBytes < 64 << 20 && now.txBytes < 64 << 20
    }

    /// Whether neither byte counter reached 2^32 since `then`.
    static func climbing(_ now: StationSnapshot, since then: StationSnapshot) -> Bool {
        now.exactUpBytes - then.exactUpBytes < wrap - then.rxBytes && now.exactDownBytes - then.exactDownBytes < wrap - then.txBytes
            && now.rxBytes > then.rxBytes && now.txBytes > then.txBytes
    }

    static func byMAC(_ stations: [StationSnapshot]) -> [MACAddress: StationSnapshot] {
        Dictionary(uniqueKeysWithValues: stations.filter(\.associated).map { ($0.mac, $0) })
    }

    static func truthByMAC(_ world: World) -> [MACAddress: TruthEntry] {
        Dictionary(uniqueKeysWithValues: world.truth().map { ($0.id.macAddress!, $0) })
    }

    @Test func wrap32BurstCarriesCountersPastTheWrapAsRealTraffic() throws {
        let world = Self.stable(width: .bits32)
        world.advance(20, of: .seconds(1))
        // One station had a silent counter reset earlier: its counters run behind the exact bytes.
        let resetMAC = try #require(world.stations().first?.mac)
        #expect(try world.injectCounterReset(.subscriber(.mac(resetMAC))) == 1)
        world.advance(5, of: .seconds(1))

        let before = Self.byMAC(world.stations()), truthBefore = Self.truthByMAC(world)
        let offsets = before.mapValues(Self.offsets)
        #expect(offsets[resetMAC]! != (0, 0) && offsets.filter { $0.key != resetMAC }.allSatisfy { $0.value == (0, 0) })
        #expect(try world.injectWrap32(.all, seconds: 12) == 3)

        var previous = before, previousTruth = truthBefore
        for _ in 0..<12 {
            world.advance(by: .seconds(1))
            let now = Self.byMAC(world.stations()), truth = Self.truthByMAC(world)
            #expect(Set(now.keys) == Set(before.keys))
            for (mac, station) in now {
                let last = try #require(previous[mac]), offset = try #require(offsets[mac])
                let truthUp = truth[mac]!.upBytes - previousTruth[mac]!.upBytes
                let truthDown = truth[mac]!.downBytes - previousTruth[mac]!.downBytes
                // Each step's counter delta (mod 2^32) is that step's truth delta, and stays
                // far below 2 GiB, so the wrap is unambiguous to a meter polling every second.
                #expect((station.rxBytes &- last.rxBytes) % Self.wrap == truthUp)
                #expect((station.txBytes &- last.txBytes) % Self.wrap == truthDown)
                #expect(station.exactUpBytes - last.exactUpBytes == truthUp)
                #expect(station.exactDownBytes - last.exactDownBytes == truthDown)
                #expect(truthDown > 300_000_000 && truthDown < Self.wrap / 2, "about 4 GiB / 12 s each step")
                #expect(station.rxBytes == (station.exactUpBytes &+ offset.up) % Self.wrap)
                #expect(station.txBytes == (station.exactDownBytes &+ offset.down) % Self.wrap)
            }
            previous = now
            previousTruth = truth
        }

        let after = Self.byMAC(world.stations()), truthAfter = Self.truthByMAC(world)
        for (mac, station) in after {
            let then = try #require(before[mac])
            // Wrapped: small again, the margin past 2^32 plus twelve seconds of ordinary traffic.
            #expect(Self.wrapped(station, since: then))
            #expect(station.rxBytes >= WorldState.wrapMargin && station.txBytes >= WorldState.wrapMargin)
            let exactUp = station.exactUpBytes - then.exactUpBytes, exactDown = station.exactDownBytes - then.exactDownBytes
            #expect(exactUp > Self.wrap - then.rxBytes && exactDown > Self.wrap - then.txBytes)
            #expect(truthAfter[mac]!.upBytes - truthBefore[mac]!.upBytes == exactUp)
            #expect(truthAfter[mac]!.downBytes - truthBefore[mac]!.downBytes == exactDown)
        }

        // The burst is over: back to ordinary traffic.
        world.advance(by: .seconds(1))
        for (mac, station) in Self.byMAC(world.stations()) {
            #expect(station.exactDownBytes - after[mac]!.exactDownBytes < 10_000_000)
        }
    }

    @Test func pauseStopsAWrap32BurstAndResumeContinuesIt() throws {
        let world = Self.stable(width: .bits32)
        world.advance(10, of: .seconds(1))
        let before = Self.byMAC(world.stations())
        #expect(try world.injectWrap32(.all, seconds: 10) == 3)
        world.advance(4, of: .seconds(1))
        world.pause()
        let frozen = world.stations().frozen, truth = world.truth()
        world.advance(60, of: .seconds(1))
        #expect(world.stations().frozen == frozen && world.truth() == truth, "nothing moves while paused, bursts included")
        world.resume()
        world.advance(5, of: .seconds(1))   // 9 of the burst's 10 running seconds
        for (mac, station) in Self.byMAC(world.stations()) {
            let then = try #require(before[mac])
            #expect(Self.climbing(station, since: then) && station.txBytes - then.txBytes > Self.wrap * 3 / 4, "not wrapped yet")
        }
        world.advance(by: .seconds(1))
        for (mac, station) in Self.byMAC(world.stations()) {
            #expect(Self.wrapped(station, since: before[mac]!), "wrapped on time")
        }
    }

    @Test func wrap32BurstTakesRealSecondsAtAnySpeedAndAnyTickSize() throws {
        func world() -> World {
            World(configuration: WorldConfiguration(scenario: .everyoneOnline(), seed: 3, speed: 30, counterWidth: .bits32))
        }
        let fine = world(), coarse = world()
        for w in [fine, coarse] {
            w.advance(by: .seconds(2))
            #expect(try w.injectWrap32(.all, seconds: 4) == 3)
        }
        let before = Self.byMAC(fine.stations())
        fine.advance(30, of: .milliseconds(100))
        coarse.advance(3, of: .seconds(1))
        for (mac, station) in Self.byMAC(fine.stations()) {
            #expect(Self.climbing(station, since: before[mac]!), "three of four real seconds: not wrapped yet")
        }
        fine.advance(10, of: .milliseconds(100))
        coarse.advance(by: .seconds(1))
        for (mac, station) in Self.byMAC(fine.stations()) {
            #expect(Self.wrapped(station, since: before[mac]!), "wrapped after four real seconds (120 simulated)")
        }
        for (x, y) in zip(fine.truth(), coarse.truth()) {
            #expect(x.downBytes.distance(to: y.downBytes).magnitude <= 2)
            #expect(x.upBytes.distance(to: y.upBytes).magnitude <= 2)
        }
    }

    @Test func aBurstEndsWhenItsStationLeaves() throws {
        let world = Self.stable(width: .bits32)
        world.advance(10, of: .seconds(1))
        let mac = try #require(world.stations().first?.mac)
        #expect(try world.injectWrap32(.subscriber(.mac(mac)), seconds: 12) == 1)
        #expect(throws: WorldError.self) { try world.injectWrap32(.subscriber(.mac(mac))) }
        #expect(try world.injectWrap32(.all) == 2, "a station already in a burst is skipped")
        world.advance(3, of: .seconds(1))
        let truthAtKick = try #require(Self.truthByMAC(world)[mac])
        #expect(world.deauthenticate(mac.description))
        world.advance(60, of: .seconds(1))   // it reassociates after about 30 s
        let station = try #require(Self.byMAC(world.stations())[mac], "back after the reconnect delay")
        #expect(station.exactDownBytes == station.txBytes && station.txBytes < 500_000_000, "the new session has no burst")
        let truth = try #require(Self.truthByMAC(world)[mac])
        #expect(truth.downBytes - truthAtKick.downBytes == station.exactDownBytes)
        #expect(truth.upBytes - truthAtKick.upBytes == station.exactUpBytes)
    }

    @Test func scheduledWrap32StartsABurst() throws {
        var scenario = Scenario.everyoneOnline()
        scenario.faults = [ScheduledFault(at: 10, action: .wrap32(.all, seconds: 5))]
        let narrow = World(configuration: WorldConfiguration(scenario: scenario, seed: 1, speed: 1, counterWidth: .bits32))
        let wide = World(configuration: WorldConfiguration(scenario: scenario, seed: 1, speed: 1, counterWidth: .bits64))
        narrow.advance(9, of: .seconds(1))
        let before = Self.byMAC(narrow.stations())
        narrow.advance(6, of: .seconds(1))
        wide.advance(15, of: .seconds(1))
        for (mac, station) in Self.byMAC(narrow.stations()) {
            #expect(Self.wrapped(station, since: before[mac]!))
        }
        #expect(Self.byMAC(wide.stations()).values.allSatisfy { $0.exactDownBytes < 100_000_000 }, "skipped with 64-bit counters")
    }

    @Test func wrap32IsRefusedWith64BitCounters() {
        let world = Self.stable(width: .bits64)
        world.advance(by: .seconds(1))
        #expect(throws: WorldError.self) { try world.injectWrap32(.all) }
        let narrow = Self.stable(width: .bits32)
        narrow.advance(by: .seconds(1))
        #expect(throws: WorldError.self) { try narrow.injectWrap32(.all, seconds: 0) }
        #expect(throws: WorldError.self) { try narrow.injectWrap32(.all, seconds: 3601) }
    }

    @Test func counterResetKeepsTruth() throws {
        let world = Self.stable()
        world.advance(30, of: .seconds(1))
        let id = try #require(world.truth().first?.id)
        let mac = try #require(id.macAddress)
        let truthBefore = try #require(world.truth().first)
        #expect(try world.injectCounterReset(.subscriber(id)) == 1)
        let reset = try #require(world.stations().first { $0.mac == mac })
        #expect(reset.rxBytes == 0 && reset.txBytes == 0 && reset.rxPackets == 0 && reset.txPackets == 0)
        #expect(world.truth().first == truthBefore)
        world.advance(5, of: .seconds(1))
        let later = try #require(world.stations().first { $0.mac == mac })
        let truthAfter = try #require(world.truth().first)
        #expect(later.txBytes > 0)
        #expect(truthAfter.downBytes - truthBefore.downBytes == later.txBytes)
        #expect(truthAfter.upBytes - truthBefore.upBytes == later.rxBytes)
        #expect(throws: WorldError.self) { try world.injectCounterReset(.subscriber(.mac(MACAddress("02:00:00:00:00:99")!))) }
    }

    @Test func hostapdRestartDropsStationsThatComeBackFromZero() throws {
        let world = Self.stable()
        let recorder = EventRecorder()
        world.setEventSink(recorder.record)
        world.advance(60, of: .seconds(1))
        let before = world.stations()
        #expect(before.count == 3)
        try world.injectHostapdRestart(downFor: 3)
        #expect(recorder.messages.filter { $0.hasPrefix("AP-STA-DISCONNECTED ") }.count == 3)
        #expect(Array(recorder.messages.suffix(2)) == ["AP-DISABLED ", "CTRL-EVENT-TERMINATING "])
        #expect(recorder.events.last == .stopped)
        #expect(world.stations().isEmpty && !world.status().hostapdUp)
        #expect(throws: WorldError.self) { try world.injectHostapdRestart(downFor: 3) }
        let truthWhileDown = world.truth()
        world.advance(2, of: .seconds(1))
        #expect(!world.status().hostapdUp)
        #expect(world.truth() == truthWhileDown, "no Wi-Fi traffic while hostapd is away")
        recorder.clear()
        world.advance(20, of: .seconds(1))
        #expect(world.status().hostapdUp)
        #expect(recorder.events.first == .started)
        #expect(recorder.messages.filter { $0.hasPrefix("AP-STA-CONNECTED ") }.count == 3)
        for station in world.stations() {
            #expect(station.connectedSeconds < 20)
            #expect(station.exactDownBytes == station.txBytes)
            #expect(station.txBytes < before.first { $0.mac == station.mac }!.txBytes + station.txBytes)
        }
    }

    @Test func disableAndEnable() {
        let world = Self.stable()
        world.advance(by: .seconds(1))
        #expect(world.disableAP())
        #expect(!world.disableAP())
        #expect(world.stations().isEmpty)
        world.advance(30, of: .seconds(1))
        #expect(world.stations().isEmpty)
        #expect(world.enableAP())
        #expect(!world.enableAP())
        world.advance(10, of: .seconds(1))
        #expect(world.stations().count == 3)
    }

    @Test func scheduledFaultsFire() throws {
        var scenario = Scenario.everyoneOnline()
        scenario.faults = [ScheduledFault(at: 10, every: 10, action: .counterReset(.all))]
        let world = World(configuration: WorldConfiguration(scenario: scenario, seed: 1, speed: 1))
        world.advance(9, of: .seconds(1))
        let before = world.stations()
        world.advance(by: .seconds(1))
        let after = world.stations()
        #expect(before.allSatisfy { $0.txBytes > 0 })
        #expect(after.allSatisfy { $0.txBytes == 0 }, "the reset at t=10s leaves counters at zero")
    }
}
