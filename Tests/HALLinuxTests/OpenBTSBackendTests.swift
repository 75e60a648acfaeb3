import HAL
@testable import HALLinux
import Logging
import Posix
import Testing

/// `OpenBTSRadio` against `FakeOpenBTS`, a TCP server in the test answering like OpenBTS 5.
@Suite("OpenBTSRadio against a fake OpenBTS")
struct OpenBTSBackendTests {
    static let alice = "001010000000001"
    static let bob = "001010000000002"
    static let carol = "001010000000003"
    static func id(_ imsi: String) -> SubscriberID { SubscriberID.imsi(imsi)! }

    static func cell(power: Double = 14, channel: Int = 51, band: RadioBand = .gsm900, capacity: Int = 10) -> CellConfiguration {
        CellConfiguration(band: band, channel: channel, mcc: "001", mnc: "01", lac: 1000, cellID: 10, transmitPowerDBm: power, capacity: capacity)
    }

    /// A backend, its fake OpenBTS and its event log, torn down by `finish()`.
    final class Rig: Sendable {
        let fake: FakeOpenBTS
        let backend: OpenBTSRadio
        let log = EventLog()
        let logs = InMemoryLogHandler()
        let runner: Task<Void, any Error>

        init(ms: [FakeOpenBTS.MS] = [], startFake: Bool = true, commandTimeout: Duration = .seconds(3)) throws {
            fake = FakeOpenBTS(ms: ms)
            try fake.start()
            let port = fake.port
            if !startFake { fake.stop() }
            backend = OpenBTSRadio(port: port, calibration: PowerCalibration(maximumOutputDBm: 20), counterWidth: .bits64,
                                   commandTimeout: commandTimeout, logger: Logger(label: "test", level: .debug, handler: logs),
                                   timing: OpenBTSTiming(pollInterval: .milliseconds(100), initialBackoff: .milliseconds(50), maximumBackoff: .milliseconds(400)))
            let (backend, sink) = (backend, log.sink)
            runner = Task { try await backend.run(events: sink) }
        }

        func waitUntilUp() async -> Bool {
            await log.wait { _ in self.backend.state == .up }
        }

        func finish() async {
            runner.cancel()
            _ = await runner.result
            fake.stop()
        }
    }

    @Test func connectsIdentifiesAndSumsEveryMSRecordOfASubscriber() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 53495, down: 139441),
                               .init(number: 2, imsi: Self.alice, up: 5, down: 9),
                               .init(number: 3, imsi: Self.bob, up: 10, down: 20)])
        #expect(await rig.waitUntilUp())
        #expect(await rig.log.wait { $0.count == 2 })
        #expect(rig.log.events == [.subscriberAttached(Self.id(Self.alice)), .subscriberAttached(Self.id(Self.bob))])
        #expect(Array(rig.fake.commands.prefix(3)) == ["version", "uptime", "gprs list"])
        let subscribers = try await rig.backend.subscribers()
        #expect(subscribers.map(\.id) == [Self.id(Self.alice), Self.id(Self.bob)])
        #expect(subscribers[0].counters == TrafficCounters(upBytes: 53500, downBytes: 139450, width: .bits64))
        #expect(subscribers[0].ipAddress == "192.168.99.2")
        #expect(rig.backend.capabilities == [.byteCounters, .detach, .block, .livePowerControl])
        #expect(rig.fake.connectionsAccepted == 1, "one connection carries every command")
        await rig.finish()
        #expect(rig.backend.state == .down)
    }

    @Test func reportsAttachesAndDetachesAsTheListChanges() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 100, down: 200)])
        #expect(await rig.log.wait { $0 == [.subscriberAttached(Self.id(Self.alice))] })
        rig.fake.setMS([.init(number: 1, imsi: Self.alice, up: 150, down: 300), .init(number: 2, imsi: Self.bob, up: 1, down: 1)])
        #expect(await rig.log.wait { $0.count == 2 })
        rig.fake.setMS([.init(number: 2, imsi: Self.bob, up: 2, down: 2)])
        #expect(await rig.log.wait { $0.count == 3 })
        #expect(rig.log.events == [
            .subscriberAttached(Self.id(Self.alice)),
            .subscriberAttached(Self.id(Self.bob)),
            .subscriberDetached(Self.id(Self.alice), finalCounters: TrafficCounters(upBytes: 150, downBytes: 300, width: .bits64)),
        ])
        // A context that is no longer GmmRegisteredNormal is a detach, too.
        rig.fake.setMS([.init(number: 2, imsi: Self.bob, up: 2, down: 2, state: "GmmDeregistered")])
        #expect(await rig.log.wait { $0.count == 4 })
        #expect(rig.log.events.last?.name == "subscriber-detached")
        await rig.finish()
    }

    @Test func aPowerAboveTheRatingIsRefusedBeforeAnythingIsSent() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        #expect(await rig.log.wait { _ in rig.fake.commands.contains("gprs list") })
        rig.fake.clearCommands()
        do {
            _ = try await rig.backend.apply(Self.cell(power: 30))
            Issue.record("30 dBm was accepted")
        } catch let error as HALError {
            #expect(error.kind == .rejected)
            #expect(error.message.contains("transmit_power"))
        }
        await #expect(throws: HALError.self) { try await rig.backend.apply(Self.cell(band: .lteU)) }
        #expect(!rig.fake.commands.contains { $0.hasPrefix("config") || $0.hasPrefix("power") })
        await rig.finish()
    }

    @Test func applySetsTheKeysAndThePowerFromTheCalibration() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        let result = try await rig.backend.apply(Self.cell(power: 14, channel: 151, band: .dcs1800))
        #expect(result.needsRestart == ["GSM.Radio.Band", "GSM.Radio.C0"])
        let sent = rig.fake.commands.filter { $0.hasPrefix("config") || $0.hasPrefix("power") }
        #expect(sent == ["config GSM.Radio.Band 1800", "config GSM.Radio.C0 151", "config GSM.Identity.MCC 001",
                         "config GSM.Identity.MNC 01", "config GSM.Identity.LAC 1000", "config GSM.Identity.CI 10", "power 6"])
        #expect(rig.fake.config["GSM.Radio.PowerManager.MaxAttenDB"] == "6")
        // The same again: nothing static changed, nothing waits for a restart.
        #expect(try await rig.backend.apply(Self.cell(power: 14, channel: 151, band: .dcs1800)).needsRestart == [])
        await rig.finish()
    }

    @Test func anOpenBTSErrorNamesTheCommand() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        rig.fake.setScript { $0.hasPrefix("config GSM.Identity.LAC") ? .reply("GSM.Identity.LAC new value is invalid\ncommand failed") : .normal }
        do {
            _ = try await rig.backend.apply(Self.cell())
            Issue.record("an OpenBTS error was not reported")
        } catch let error as HALError {
            #expect(error.kind == .rejected)
            #expect(error.message == "config GSM.Identity.LAC 1000: command failed (GSM.Identity.LAC new value is invalid)")
        }
        #expect(rig.backend.state == .up, "an error reply keeps the connection")
        await rig.finish()
    }

    @Test func detachFreesTheSGSNContextAndTheTMSIRecord() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 1, down: 2)])
        #expect(await rig.log.wait { $0.count == 1 })
        try await rig.backend.detach(Self.id(Self.alice))
        let commands = rig.fake.commands
        let free = try #require(commands.firstIndex(of: "sgsn free imsi \(Self.alice)"))
        #expect(commands.firstIndex(of: "tmsis delete -imsi \(Self.alice)").map { $0 > free } == true)
        #expect(await rig.log.wait { $0.last?.name == "subscriber-detached" })
        await #expect(throws: HALError.self) { try await rig.backend.detach(.mac(MACAddress("02:00:00:00:0b:01")!)) }
        await rig.finish()
    }

    @Test func aBlockedSubscriberIsDetachedAndRefusedWhenItComesBack() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 1, down: 2)])
        #expect(await rig.log.wait { $0.count == 1 })
        try await rig.backend.setBlocked(Self.id(Self.alice), true)
        #expect(await rig.log.wait { _ in rig.fake.commands.contains("sgsn free imsi \(Self.alice)") })
        #expect(await rig.log.wait { $0.contains { $0.name == "subscriber-detached" } })
        #expect(rig.backend.blockedSubscribers == [Self.id(Self.alice)])
        rig.fake.setMS([.init(number: 4, imsi: Self.alice, up: 0, down: 0)])  // the phone attaches again
        #expect(await rig.log.wait { $0.last == .attachRefused(Self.id(Self.alice), reason: "blocked") })
        #expect(await rig.log.wait { _ in rig.fake.commands.filter { $0 == "sgsn free imsi \(Self.alice)" }.count >= 2 })
        try await rig.backend.setBlocked(Self.id(Self.alice), false)
        rig.fake.setMS([.init(number: 5, imsi: Self.alice, up: 0, down: 0)])
        #expect(await rig.log.wait { $0.last == .subscriberAttached(Self.id(Self.alice)) })
        #expect(rig.log.count("attach-refused") >= 1)
        await rig.finish()
    }

    @Test func overCapacityTheNewestIsDetachedAndRefused() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 1, down: 1, age: 300),
                               .init(number: 2, imsi: Self.bob, up: 1, down: 1, age: 200)])
        #expect(await rig.log.wait { $0.count == 2 })
        _ = try await rig.backend.apply(Self.cell(capacity: 2))
        rig.fake.setMS([.init(number: 1, imsi: Self.alice, up: 1, down: 1, age: 300),
                        .init(number: 2, imsi: Self.bob, up: 1, down: 1, age: 200),
                        .init(number: 3, imsi: Self.carol, up: 1, down: 1, age: 2)])
        #expect(await rig.log.wait { $0.contains { $0.name == "attach-refused" } })
        #expect(rig.log.events.last == .attachRefused(Self.id(Self.carol), reason: "cell full (capacity 2)"))
        // The event goes out first, the detach right after it.
        #expect(await rig.log.wait { _ in rig.fake.commands.contains("tmsis delete -imsi \(Self.carol)") })
        #expect(rig.fake.commands.contains("sgsn free imsi \(Self.carol)"))
        #expect(try await rig.backend.subscribers().map(\.id) == [Self.id(Self.alice), Self.id(Self.bob)])
        #expect(rig.logs.contains("refused imsi:\(Self.carol): cell full (capacity 2)", atLeast: .notice))
        #expect(!rig.log.events.contains(.subscriberAttached(Self.id(Self.carol))))
        await rig.finish()
    }

    @Test func callsFailAtOnceBeforeOpenBTSIsReached() async throws {
        let rig = try Rig(startFake: false)
        #expect(await rig.log.wait(for: 30) { _ in rig.logs.contains("cannot connect") })
        #expect(rig.backend.state == .down)
        let started = ContinuousClock.now
        await #expect(throws: HALError.self) { try await rig.backend.subscribers() }
        await #expect(throws: HALError.self) { try await rig.backend.apply(Self.cell()) }
        await #expect(throws: HALError.self) { try await rig.backend.setBlocked(Self.id(Self.alice), true) }
        #expect(rig.log.events.isEmpty)
        await rig.finish()
    }
}
