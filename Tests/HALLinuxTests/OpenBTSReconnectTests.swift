import HAL
@testable import HALLinux
import Logging
import Posix
import Testing

/// Losing OpenBTS and getting it back, against `FakeOpenBTS`.
@Suite("OpenBTSRadio losing OpenBTS")
struct OpenBTSReconnectTests {
    typealias Rig = OpenBTSBackendTests.Rig
    static let alice = OpenBTSBackendTests.alice
    static let bob = OpenBTSBackendTests.bob
    static func id(_ imsi: String) -> SubscriberID { SubscriberID.imsi(imsi)! }
    static func bytes(_ up: UInt64, _ down: UInt64) -> TrafficCounters { TrafficCounters(upBytes: up, downBytes: down, width: .bits64) }

    @Test func aRestartedOpenBTSMeansDegradedThenCountersResetAndRestored() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 10, down: 20)])
        #expect(await rig.log.wait { $0.count == 1 })

        rig.fake.stop()  // the process dies: connection closed, nobody listening
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } })
        #expect(rig.backend.state == .degraded)
        let started = ContinuousClock.now
        await #expect(throws: HALError.self) { try await rig.backend.subscribers() }
        await #expect(throws: HALError.self) { try await rig.backend.detach(Self.id(Self.alice)) }
        #expect(await rig.log.wait { _ in rig.logs.contains("cannot connect") }, "a reconnect was refused")

        // OpenBTS comes back with bob; alice's attachment ended with the old process.
        rig.fake.setMS([.init(number: 1, imsi: Self.bob, up: 1, down: 2)])
        try rig.fake.start()
        #expect(await rig.log.wait { $0.contains(.subscriberAttached(Self.id(Self.bob))) })
        #expect(rig.backend.state == .up)
        let device = rig.backend.name
        let events = rig.log.events
        #expect(events.count == 6)
        #expect(events.first == .subscriberAttached(Self.id(Self.alice)))
        #expect(events.dropFirst().first?.name == "degraded")
        #expect(Array(events.dropFirst(2)) == [
            .subscriberDetached(Self.id(Self.alice), finalCounters: Self.bytes(10, 20)),
            .countersReset(device: device),
            .restored(device: device),
            .subscriberAttached(Self.id(Self.bob)),
        ])
        #expect(try await rig.backend.subscribers().map(\.counters) == [Self.bytes(1, 2)])
        await rig.finish()
    }

    @Test func aSilentOpenBTSTimesOutAndTheSameProcessIsRestoredWithoutACounterReset() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 10, down: 20)])
        #expect(await rig.log.wait { $0.count == 1 })
        rig.fake.setScript { _ in .silence }
        do {
            _ = try await rig.backend.subscribers()
            Issue.record("subscribers() answered by a silent OpenBTS")
        } catch let error as HALError {
            #expect(error.kind == .timedOut || error.kind == .unavailable)
        }
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } })
        #expect(rig.logs.contains("no reply to gprs list within", atLeast: .warning))

        rig.fake.setMS([.init(number: 1, imsi: Self.alice, up: 15, down: 25)])
        rig.fake.setScript(nil)  // the same process answers again: its uptime went on
        #expect(await rig.log.wait { $0.contains { $0.name == "restored" } })
        #expect(rig.log.count("counters-reset") == 0)
        #expect(rig.log.count("subscriber-detached") == 0)
        #expect(rig.fake.connectionsAccepted >= 2)
        #expect(try await rig.backend.subscribers().map(\.counters) == [Self.bytes(15, 25)])
        await rig.finish()
    }

    @Test func aDroppedConnectionToTheSameProcessKeepsTheCounters() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 10, down: 20)])
        #expect(await rig.log.wait { $0.count == 1 })
        rig.fake.dropConnections()
        #expect(await rig.log.wait { $0.contains { $0.name == "restored" } })
        #expect(rig.log.names == ["subscriber-attached", "degraded", "restored"])
        #expect(rig.backend.state == .up)
        await rig.finish()
    }

    @Test func withoutUptimeAReconnectIsTakenForARestart() async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 10, down: 20)])
        rig.fake.setUptimeReply("command not found\n")
        #expect(await rig.log.wait { $0.count == 1 })
        rig.fake.dropConnections()
        #expect(await rig.log.wait { $0.filter { $0.name == "subscriber-attached" }.count == 2 })
        #expect(rig.log.names == ["subscriber-attached", "degraded", "subscriber-detached", "counters-reset", "restored", "subscriber-attached"])
        await rig.finish()
    }

    @Test(arguments: [
        ("length", [0xff, 0xff, 0xff, 0xff] as [UInt8], "frame length"),
        ("binary", [0, 0, 0, 2, 0xc3, 0xa9] as [UInt8], "not ASCII"),
        ("unasked", [0, 0, 0, 2, 0x6f, 0x6b, 0, 0, 0, 2, 0x6f, 0x6b] as [UInt8], "OpenBTS sent"),
    ])
    func aGarbledReplyDropsTheConnectionAndReconnects(kind: String, bytes: [UInt8], message: String) async throws {
        let rig = try Rig(ms: [.init(number: 1, imsi: Self.alice, up: 10, down: 20)])
        #expect(await rig.log.wait { $0.count == 1 })
        rig.fake.setScript { $0 == "gprs list" ? .raw(bytes) : .normal }
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } }, "\(kind)")
        #expect(rig.logs.contains(message, atLeast: .warning), "\(kind): \(rig.logs.entries.map(\.message))")
        rig.fake.setScript(nil)
        #expect(await rig.log.wait { $0.contains { $0.name == "restored" } }, "\(kind)")
        #expect(rig.backend.state == .up)
        #expect(rig.log.count("counters-reset") == 0)
        await rig.finish()
    }

    @Test func aGPRSListThatDoesNotParseDropsTheConnection() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        rig.fake.setScript { $0 == "gprs list" ? .reply(" MS#1,TLLI=c001f001,0 rrmode=PacketIdle Bytes:manyup/fewdown\n") : .normal }
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } })
        #expect(rig.logs.contains("bad byte counts", atLeast: .warning))
        rig.fake.setScript(nil)
        #expect(await rig.log.wait { $0.contains { $0.name == "restored" } })
        await rig.finish()
    }

    @Test func cancellingRunLeavesItDownAndRunTwiceIsRefused() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        await #expect(throws: HALError.self) { try await rig.backend.run(events: { _ in }) }
        rig.runner.cancel()
        _ = await rig.runner.result
        #expect(rig.backend.state == .down)
        await #expect(throws: HALError.self) { try await rig.backend.subscribers() }
        await rig.finish()
    }
}
