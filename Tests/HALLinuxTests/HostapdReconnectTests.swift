import FoundationEssentials
import HAL
@testable import HALLinux
import Logging
import Posix
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Losing hostapd and getting it back, against `FakeHostapd`.
@Suite("HostapdAccessPoint losing hostapd")
struct HostapdReconnectTests {
    typealias Rig = HostapdBackendTests.Rig
    static let alice = HostapdBackendTests.alice
    static let bob = HostapdBackendTests.bob
    static let body = HostapdBackendTests.radioBody

    @Test func aRestartedHostapdMeansDegradedThenCountersResetAndRestored() async throws {
        let rig = try Rig(stations: [.init(mac: "\(Self.alice)", body: Self.body)])
        #expect(await rig.waitUntilUp())

        rig.fake.stop(graceful: true)  // AP-DISABLED, CTRL-EVENT-TERMINATING, socket gone
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } })
        #expect(rig.backend.state == .degraded)
        let started = ContinuousClock.now
        await #expect(throws: HALError.self) { try await rig.backend.stations() }
        await #expect(throws: HALError.self) { try await rig.backend.deauthenticate(Self.alice) }

        // hostapd comes back with another station: alice's session ended with the old process.
        rig.fake.setStations([.init(mac: "\(Self.bob)", body: Self.body)])
        try rig.fake.start()
        #expect(await rig.log.wait { $0.contains { $0.name == "restored" } })
        #expect(rig.backend.state == .up)
        let device = rig.backend.name
        // hostapd says it is terminating, unless a send notices first on a loaded machine:
        // either way the same story, in the same order.
        let story = rig.log.events.filter { $0 != .accessPointDisabled }.map { event -> HALEvent in
            if case .degraded(let device, _) = event { return .degraded(device: device, reason: "") }
            return event
        }
        #expect(story == [
            .accessPointEnabled,
            .degraded(device: device, reason: ""),
            .stationDisconnected(.mac(Self.alice), finalCounters: nil),
            .countersReset(device: device),
            .restored(device: device),
            .accessPointEnabled,
            .stationConnected(.mac(Self.bob)),
        ])
        #expect(rig.logs.contains("hostapd is terminating") || rig.logs.contains("hostapd is gone"))
        #expect(try await rig.backend.stations().map(\.mac) == [Self.bob])
        await rig.finish()
    }

    @Test func aSilentlyKilledHostapdIsNoticedByTheKeepalive() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        rig.fake.stop(graceful: false)  // like SIGKILL: no event, the socket just stops answering
        let lost = ContinuousClock.now
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } })
        #expect(rig.backend.state == .degraded)
        try rig.fake.start()
        #expect(await rig.log.wait { $0.contains { $0.name == "restored" } })
        #expect(rig.log.count("counters-reset") == 1)
        #expect(rig.backend.state == .up)
        await rig.finish()
    }

    @Test func aStalledHostapdTimesOutAndTheSameOneIsRestoredWithoutACounterReset() async throws {
        let rig = try Rig(stations: [.init(mac: "\(Self.alice)", body: Self.body)])
        #expect(await rig.waitUntilUp())
        rig.fake.broadcast("<3>AP-STA-CONNECTED \(Self.alice)")
        #expect(await rig.log.wait { $0.count == 1 })  // alice was already listed: no duplicate event

        rig.fake.setScript { _ in .silence }
        do {
            _ = try await rig.backend.stations()
            Issue.record("stations() answered by a silent hostapd")
        } catch let error as HALError {
            #expect(error.kind == .timedOut)
        }
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } })

        rig.fake.setScript(nil)  // same process, same socket file, answering again
        #expect(await rig.log.wait { $0.contains { $0.name == "restored" } })
        #expect(rig.log.count("counters-reset") == 0)
        #expect(rig.log.count("station-disconnected") == 0)
        #expect(rig.backend.state == .up)
        await rig.finish()
    }

    @Test func aStationThatLeftWhileWeWereAwayIsReportedGone() async throws {
        let rig = try Rig(stations: [.init(mac: "\(Self.alice)", body: Self.body), .init(mac: "\(Self.bob)", body: Self.body)])
        #expect(await rig.waitUntilUp())
        rig.fake.setScript { _ in .silence }
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } })
        rig.fake.setStations([.init(mac: "\(Self.bob)", body: Self.body)])
        rig.fake.setScript(nil)
        #expect(await rig.log.wait { $0.contains { $0.name == "restored" } })
        let afterLoss = rig.log.events.drop { $0.name != "degraded" }
        #expect(Array(afterLoss.dropFirst()) == [
            .stationDisconnected(.mac(Self.alice), finalCounters: nil),
            .restored(device: rig.backend.name),
            .accessPointEnabled,
        ])
        await rig.finish()
    }

    @Test func cancellingRunDetachesAndRemovesTheClientSocket() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        let clients = rig.fake.clientPaths
        #expect(clients.count == 1)
        let client = try #require(clients.first)
        #expect(client.hasPrefix("/tmp/wpa_ctrl_\(getpid())-"))
        #expect(access(client, F_OK) == 0)
        rig.runner.cancel()
        _ = await rig.runner.result
        #expect(access(client, F_OK) != 0, "wpa_ctrl_close unlinks the client path")
        #expect(await rig.log.wait(for: 30) { _ in rig.fake.commands.last == "DETACH" }, "a farewell DETACH")
        #expect(rig.backend.state == .down)
        await rig.finish()
    }

    @Test func runTwiceAtOnceIsRefused() async throws {
        let rig = try Rig()
        #expect(await rig.waitUntilUp())
        await #expect(throws: HALError.self) { try await rig.backend.run(events: { _ in }) }
        await rig.finish()
    }

    @Test func libwpaClientSetsNonBlockingAndUnlinksItsPath() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        #expect(WPAControlSocket.flagsLeftByLibrary(connectingTo: directory.path + "/none") == nil)
        let fake = FakeHostapd(directory: directory.path)
        try fake.start()
        defer { fake.stop(graceful: false) }
        let facts = try #require(WPAControlSocket.flagsLeftByLibrary(connectingTo: fake.path))
        #expect(facts.nonBlocking, "libwpa_client 2.10 sets O_NONBLOCK itself")
        #expect(facts.clientPathUnlinked)
        let socket = try WPAControlSocket.open(fake.path)
        #expect(socket.isNonBlocking)
        socket.close()
        socket.close()  // idempotent
        do {
            _ = try WPAControlSocket.open(directory.path + "/none")
            Issue.record("opened a socket nobody listens on")
        } catch {
            #expect(error.errno == .noEntry)
        }
    }
}
