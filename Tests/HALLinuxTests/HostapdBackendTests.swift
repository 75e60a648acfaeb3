import FoundationEssentials
import HAL
@testable import HALLinux
import Logging
import Posix
import Testing

/// The backend against `FakeHostapd`: a datagram server in the test answering like hostapd.
@Suite("HostapdAccessPoint against a fake hostapd")
struct HostapdBackendTests {
    static let alice = MACAddress("02:00:00:00:0b:01")!
    static let bob = MACAddress("02:00:00:00:0b:02")!
    static let radioBody = "flags=[AUTH][ASSOC][AUTHORIZED]\nrx_packets=10\ntx_packets=20\nrx_bytes=1000\ntx_bytes=2000\ninactive_msec=5\nsignal=-50\nconnected_time=7\n"
    static let wiredBody = "flags=[AUTHORIZED]\naid=0\ntimeout_next=NULLFUNC POLL\ndot1xAuthSessionUserName=qltuser\n"

    /// A backend, its fake hostapd and its event log, torn down by `finish()`.
    final class Rig: Sendable {
        let directory = TemporaryDirectory()
        let fake: FakeHostapd
        let backend: HostapdAccessPoint
        let log = EventLog()
        let logs = InMemoryLogHandler()
        let runner: Task<Void, any Error>

        init(stations: [FakeHostapd.Station] = [], pskFile: Bool = false, startFake: Bool = true,
             commandTimeout: Duration = .seconds(3)) throws {
            fake = FakeHostapd(directory: directory.path + "/hostapd", stations: stations)
            if startFake { try fake.start() }
            backend = HostapdAccessPoint(
                ctrlInterface: directory.path + "/hostapd", interface: "wlan0",
                pskFile: pskFile ? directory.path + "/wpa_psk" : nil, counterWidth: .bits64,
                commandTimeout: commandTimeout, logger: Logger(label: "test", level: .debug, handler: logs),
                timing: HostapdTiming(keepaliveInterval: .milliseconds(200), initialBackoff: .milliseconds(50), maximumBackoff: .milliseconds(400)))
            let (backend, sink) = (backend, log.sink)
            runner = Task { try await backend.run(events: sink) }
        }

        func waitUntilUp() async -> Bool {
            await log.wait { _ in self.backend.state == .up }
        }

        func finish() async {
            runner.cancel()
            _ = await runner.result
            fake.stop(graceful: false)
            directory.remove()
        }
    }

    @Test func connectsAttachesAndReportsTheAPState() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        #expect(rig.log.events == [.accessPointEnabled])
        #expect(Array(rig.fake.commands.filter { $0 != "PING" }.prefix(3)) == ["ATTACH", "STATUS", "STA-FIRST"])
        #expect(rig.fake.monitorCount == 1)
        await rig.finish()
    }

    @Test func walksEveryStationAndLearnsCapabilitiesFromTheReplies() async throws {
        let rig = try Rig(stations: [.init(mac: "02:00:00:00:0b:01", body: Self.radioBody), .init(mac: "02:00:00:00:0b:02", body: Self.radioBody)])
        #expect(await rig.waitUntilUp())
        let stations = try await rig.backend.stations()
        #expect(stations.map(\.mac) == [Self.alice, Self.bob])
        #expect(stations[0].counters == TrafficCounters(upBytes: 1000, downBytes: 2000, upPackets: 10, downPackets: 20, width: .bits64))
        #expect(rig.backend.capabilities.isSuperset(of: [.byteCounters, .signalStrength, .deauthenticate]))
        #expect(!rig.backend.capabilities.contains(.finalCountersOnDisconnect))
        #expect(rig.fake.commands.contains("STA-NEXT 02:00:00:00:0b:02"))
        await rig.finish()
    }

    @Test func wiredStationsHaveNoCountersAndNoCounterCapability() async throws {
        let rig = try Rig(stations: [.init(mac: "02:00:00:00:0b:01", body: Self.wiredBody)])
        #expect(await rig.waitUntilUp())
        let stations = try await rig.backend.stations()
        #expect(stations.count == 1 && stations[0].counters == nil && stations[0].authorized)
        #expect(!rig.backend.capabilities.contains(.byteCounters))
        #expect(!rig.backend.capabilities.contains(.perStationPSK))
        await rig.finish()
    }

    @Test func concurrentCallersEachGetTheirOwnReply() async throws {
        let rig = try Rig(stations: (1...5).map { .init(mac: "02:00:00:00:0b:0\($0)", body: Self.radioBody) })
        #expect(await rig.waitUntilUp())
        let backend = rig.backend
        try await withThrowingTaskGroup(of: [StationInfo].self) { group in
            for _ in 0..<12 { group.addTask { try await backend.stations() } }
            for try await stations in group { #expect(stations.count == 5) }
        }
        await rig.finish()
    }

    @Test func stationEventsBecomeHALEvents() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        rig.fake.broadcast("<3>AP-STA-CONNECTED 02:00:00:00:0b:01 keyid=alice")
        rig.fake.broadcast("<3>CTRL-EVENT-EAP-SUCCESS 02:00:00:00:0b:01")
        rig.fake.broadcast("<3>AP-STA-DISCONNECTED 02:00:00:00:0b:01")
        #expect(await rig.log.wait { $0.count == 3 })
        #expect(rig.log.events == [.accessPointEnabled, .stationConnected(.mac(Self.alice)), .stationDisconnected(.mac(Self.alice), finalCounters: nil)])
        await rig.finish()
    }

    @Test func theEventBeforeTheReplyIsDeliveredBeforeTheCallReturns() async throws {
        let rig = try Rig(stations: [.init(mac: "02:00:00:00:0b:01", body: Self.wiredBody)])
        #expect(await rig.waitUntilUp())
        try await rig.backend.deauthenticate(Self.alice)
        // The fake sent <3>AP-STA-DISCONNECTED before OK, as hostapd does.
        #expect(rig.log.events.last == .stationDisconnected(.mac(Self.alice), finalCounters: nil))
        #expect(try await rig.backend.stations().isEmpty)
        await rig.finish()
    }

    @Test func startAndStopAreIdempotent() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        try await rig.backend.stop()
        #expect(rig.backend.state == .down)
        try await rig.backend.stop()  // FAIL, but STATUS says DISABLED
        try await rig.backend.start()
        #expect(rig.backend.state == .up)
        try await rig.backend.start()
        #expect(rig.log.events == [.accessPointEnabled, .accessPointDisabled, .accessPointEnabled])
        #expect(rig.fake.commands.filter { $0 == "STATUS" }.count == 3)
        await rig.finish()
    }

    @Test func aRefusedCommandIsRejected() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        rig.fake.setScript { $0.hasPrefix("DEAUTHENTICATE") ? .reply("FAIL\n") : .normal }
        await #expect(throws: HALError.self) { try await rig.backend.deauthenticate(Self.alice) }
        #expect(rig.backend.state == .up)
        await rig.finish()
    }

    @Test func beforeHostapdExistsTheBackendIsDownAndCallsFailAtOnce() async throws {
        let rig = try Rig(startFake: false)
        try await Task.sleep(for: .milliseconds(200))
        #expect(rig.backend.state == .down)
        #expect(rig.log.events.isEmpty)
        let started = ContinuousClock.now
        do {
            _ = try await rig.backend.stations()
            Issue.record("stations() succeeded without hostapd")
        } catch let error as HALError {
            #expect(error.kind == .unavailable)
        }
        try rig.fake.start()
        #expect(await rig.waitUntilUp())
        #expect(rig.log.events == [.accessPointEnabled])  // a first connection, not a restore
        await rig.finish()
    }
}
