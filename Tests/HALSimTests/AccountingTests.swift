import HAL
@testable import HALSim
import Logging
import Posix
import Synchronization
import Testing

/// The emulated hostapd's RADIUS accounting: what the world records (Start/Stop with the
/// session's final driver counters, Accounting-On/Off) and how the client puts it on the
/// wire (RFC 2866 authenticators, retransmission, giving up, bad responses).
@Suite struct AccountingTests {
    static func stable(width: CounterWidth = .bits32, subscribers: Int = 3) -> (World, AccountingRecorder) {
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: subscribers), seed: 3, speed: 1,
                                                            counterWidth: width))
        let recorder = AccountingRecorder()
        world.setAccountingSink(recorder.record)
        world.enableAccounting()
        return (world, recorder)
    }

    @Test func md5MatchesRFC1321() {
        #expect(TestMD5.hex(TestMD5.digest([])) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(TestMD5.hex(TestMD5.digest(Array("abc".utf8))) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(TestMD5.hex(TestMD5.digest(Array("message digest".utf8))) == "f96b697d7cb7938d525a2f31aaf161d0")
        let long = "12345678901234567890123456789012345678901234567890123456789012345678901234567890"
        #expect(TestMD5.hex(TestMD5.digest(Array(long.utf8))) == "57edf4a22be3c955ac49da2e2107b67a")
    }

    // MARK: - What the world records

    @Test func nothingIsRecordedUntilAccountingIsEnabled() {
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(), seed: 3))
        let recorder = AccountingRecorder()
        world.setAccountingSink(recorder.record)
        world.advance(5, of: .seconds(1))
        _ = world.deauthenticate(world.stations()[0].mac.description)
        #expect(recorder.events.isEmpty)
        world.enableAccounting()
        let events = recorder.events
        #expect(events.first?.status == .accountingOn && events.first?.station == nil)
        #expect(events.dropFirst().map(\.status) == [.start, .start], "a Start for each station already associated")
    }

    @Test func startAndStopShareTheSessionID() throws {
        let (world, recorder) = Self.stable()
        let events = recorder.events
        #expect(events.map(\.status) == [.accountingOn, .start, .start, .start])
        #expect(Set(events.map(\.sessionID)).count == 4, "hostapd's own id and one per session")
        world.advance(10, of: .seconds(1))
        let station = world.stations()[0]
        recorder.clear()
        #expect(world.deauthenticate(station.mac.description))
        let stop = try #require(recorder.stops.first)
        #expect(recorder.events.count == 1)
        #expect(stop.station == AccountingEvent.Station(mac: station.mac, aid: station.aid))
        #expect(stop.sessionID == events.first { $0.station?.mac == station.mac }?.sessionID)
        #expect(stop.terminateCause == nil, "hostapd sets no cause for DEAUTHENTICATE")
        #expect(stop.final?.sessionSeconds == 10)
    }

    @Test func stopCarriesTheSessionsExactBytesWithGigawordsAfterAWrap() throws {
        let (world, recorder) = Self.stable()
        world.advance(20, of: .milliseconds(250))
        let target = world.stations()[0].mac
        #expect(try world.injectWrap32(.subscriber(.mac(target)), seconds: 2) == 1)
        world.advance(30, of: .milliseconds(100))   // the burst is over after 2 s
        let poll = try #require(world.stations().first { $0.mac == target })
        #expect(poll.exactUpBytes > 1 << 32 && poll.exactDownBytes > 1 << 32, "the burst carried both counters past 2^32")
        #expect(poll.rxBytes < 1 << 32 && poll.txBytes < 1 << 32)
        recorder.clear()
        #expect(world.deauthenticate(target.description))
        let final = try #require(recorder.stops.first?.final)
        // Exactly the session's bytes: the STA poll of the same instant in the low 32 bits,
        // one wrap in the gigawords.
        #expect(final.upBytes == poll.exactUpBytes && final.downBytes == poll.exactDownBytes)
        #expect(final.upBytes & 0xFFFF_FFFF == poll.rxBytes && final.downBytes & 0xFFFF_FFFF == poll.txBytes)
        #expect(final.upBytes >> 32 == 1 && final.downBytes >> 32 == 1)
        #expect(UInt64(final.upPackets) == poll.rxPackets && UInt64(final.downPackets) == poll.txPackets)
        let ended = try #require(world.sessionHistory().last)
        #expect(ended.id == .mac(target) && ended.upBytes == final.upBytes && ended.downBytes == final.downBytes)
    }

    @Test func afterACounterResetTheStopCarriesTheDriversCounter() throws {
        let (world, recorder) = Self.stable()
        world.advance(20, of: .seconds(1))
        let target = world.stations()[0].mac
        try world.injectCounterReset(.subscriber(.mac(target)))
        world.advance(5, of: .seconds(1))
        let poll = try #require(world.stations().first { $0.mac == target })
        #expect(poll.rxBytes < poll.exactUpBytes, "the driver restarted from zero")
        recorder.clear()
        #expect(world.deauthenticate(target.description))
        let final = try #require(recorder.stops.first?.final)
        #expect(final.upBytes == poll.rxBytes && final.downBytes == poll.txBytes, "the driver's counter since the reset, no gigawords")
        #expect(UInt64(final.upPackets) == poll.rxPackets && UInt64(final.downPackets) == poll.txPackets)
    }

    @Test func sixtyFourBitCountersGoIntoOctetsAndGigawords() throws {
        let (world, recorder) = Self.stable(width: .bits64)
        world.advance(30, of: .seconds(1))
        let poll = world.stations()[0]
        recorder.clear()
        #expect(world.deauthenticate(poll.mac.description))
        let final = try #require(recorder.stops.first?.final)
        #expect(final.upBytes == poll.rxBytes && final.downBytes == poll.txBytes)
    }

    @Test func hostapdRestartStopsEverySessionThenAccountingOffAndOnAgain() throws {
        let (world, recorder) = Self.stable()
        let on = try #require(recorder.events.first)
        world.advance(10, of: .seconds(1))
        let polls = world.stations()
        recorder.clear()
        try world.injectHostapdRestart(downFor: 2)
        let events = recorder.events
        #expect(events.map(\.status) == [.stop, .stop, .stop, .accountingOff])
        #expect(events.prefix(3).allSatisfy { $0.terminateCause == .adminReboot })
        #expect(events.last?.sessionID == on.sessionID)
        for poll in polls {
            let stop = try #require(events.first { $0.station?.mac == poll.mac })
            #expect(stop.final?.upBytes == poll.rxBytes && stop.final?.downBytes == poll.txBytes)
        }
        recorder.clear()
        world.advance(20, of: .seconds(1))
        let again = recorder.events
        #expect(again.first?.status == .accountingOn && again.first?.sessionID != on.sessionID)
        #expect(again.dropFirst().map(\.status) == [.start, .start, .start])
    }

    @Test func disableStopsWithoutACauseAndEnableSaysAccountingOn() throws {
        let (world, recorder) = Self.stable()
        world.advance(5, of: .seconds(1))
        recorder.clear()
        #expect(world.disableAP())
        #expect(recorder.events.map(\.status) == [.stop, .stop, .stop, .accountingOff])
        #expect(recorder.stops.allSatisfy { $0.terminateCause == nil })
        recorder.clear()
        #expect(world.enableAP())
        world.advance(10, of: .seconds(1))
        #expect(recorder.events.map(\.status) == [.accountingOn, .start, .start, .start])
    }

    @Test func aStationLeavingOnItsOwnSaysUserRequest() throws {
        let scenario = Scenario(name: "short", subscribers: 4, ues: 0, startOfDay: 20 * 3600, meanSession: 10,
                                arrivalsPerHour: 1_000_000, trafficScale: 1, reconnectDelay: 30)
        let world = World(configuration: WorldConfiguration(scenario: scenario, seed: 5, speed: 1))
        let recorder = AccountingRecorder()
        world.setAccountingSink(recorder.record)
        world.enableAccounting()
        world.advance(120, of: .seconds(1))
        #expect(!recorder.stops.isEmpty)
        #expect(recorder.stops.allSatisfy { $0.terminateCause == .userRequest })
        let history = world.sessionHistory()
        #expect(recorder.stops.map { $0.final!.upBytes } == history.map(\.upBytes), "each Stop carries its session's bytes")
        #expect(recorder.stops.map { $0.final!.downBytes } == history.map(\.downBytes))
        let ids = recorder.events.filter { $0.status == .start }.map(\.sessionID)
        #expect(Set(ids).count == ids.count, "every session has its own Acct-Session-Id")
    }

    @Test func pskReloadKickSendsAStop() throws {
        let (world, recorder) = Self.stable()
        world.advance(5, of: .seconds(1))
        let target = world.stations()[0].mac
        world.reloadPSK([PSKEntry(mac: target, key: "station-key-1")])
        recorder.clear()
        world.reloadPSK([PSKEntry(mac: target, key: "station-key-1")])
        #expect(recorder.events.isEmpty, "a station on the AP passphrase is never kicked by a reload")
        // Once it comes back with its own key, removing the key kicks it.
        #expect(world.deauthenticate(target.description))
        world.advance(60, of: .seconds(1))
        let poll = try #require(world.stations().first { $0.mac == target && $0.associated })
        recorder.clear()
        world.reloadPSK([])
        #expect(recorder.events.map(\.status) == [.stop])
        let stop = try #require(recorder.stops.first)
        #expect(stop.station?.mac == target && stop.terminateCause == nil)
        #expect(stop.final?.upBytes == poll.rxBytes && stop.final?.downBytes == poll.txBytes)
    }

    // MARK: - On the wire

    @Test func requestsCarryHostapdsAttributesAndRFCAuthenticators() async throws {
        let server = try FakeAccountingServer()
        defer { server.stop() }
        let client = try RADIUSAccountingClient.forTest(server)
        client.start()
        defer { client.stop() }
        let (world, _) = Self.stable()
        world.setAccountingSink { client.deliver($0) }
        world.advance(10, of: .seconds(1))
        let station = world.stations()[0]
        // Re-enabling is a no-op; restart accounting on the wire with a DISABLE/ENABLE pair.
        #expect(world.disableAP() && world.enableAP())
        world.advance(10, of: .seconds(1))
        #expect(world.deauthenticate(station.mac.description))
        #expect(await client.wait { $0.sent >= 9 && $0.answered == $0.sent })
        let requests = server.requests
        #expect(requests.allSatisfy { $0.hasValidAuthenticator(secret: server.secret) })
        #expect(requests.map(\.status) == [2, 2, 2, 8, 7, 1, 1, 1, 2].map(UInt32.init))
        let stats = client.statistics
        #expect(stats.sent == 9 && stats.answered == 9 && stats.retransmitted == 0 && stats.unanswered == 0 && stats.dropped == 0)

        let stop = requests.last!
        let mac = station.mac.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        #expect(stop.text(31) == mac.map { $0.uppercased() }.joined(separator: "-"), "Calling-Station-Id")
        #expect(stop.text(1) == mac.joined(), "User-Name")
        #expect(stop.values(4) == [[127, 0, 0, 1]], "NAS-IP-Address")
        #expect(stop.text(32) == "sim-bs1" && stop.text(30) == "02-51-00-00-00-01:Qlink-sim")
        #expect(stop.integer(61) == 19 && stop.integer(45) == 2 && stop.integer(41) == 0)
        let sessionID = try #require(stop.text(44))
        #expect(sessionID.count == 16 && sessionID.allSatisfy { $0.isHexDigit && !$0.isLowercase })
        let start = try #require(requests.first { $0.status == 1 && $0.text(31) == stop.text(31) })
        #expect(start.text(44) == sessionID)
        #expect(start.integer(42) == nil, "a Start carries no counters")
        #expect((4...9).contains(stop.integer(46) ?? 99) && stop.integer(49) == nil, "Acct-Session-Time; no cause for DEAUTHENTICATE")
        let ended = try #require(world.sessionHistory().last)
        #expect(stop.inputBytes == ended.upBytes && stop.outputBytes == ended.downBytes)
        #expect(stop.integer(52) == 0 && stop.integer(53) == 0)
        let on = requests[4]
        #expect(on.text(44)?.count == 16 && on.text(31) == nil && on.text(1) == nil)
    }

    @Test func aWrappedSessionsStopOnTheWire() async throws {
        let server = try FakeAccountingServer()
        defer { server.stop() }
        let client = try RADIUSAccountingClient.forTest(server)
        client.start()
        defer { client.stop() }
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: 1), seed: 3, speed: 1))
        world.setAccountingSink { client.deliver($0) }
        world.enableAccounting()
        world.advance(10, of: .milliseconds(500))
        let target = world.stations()[0].mac
        try world.injectWrap32(.all, seconds: 1)
        world.advance(20, of: .milliseconds(100))
        let poll = world.stations()[0]
        #expect(world.deauthenticate(target.description))
        #expect(await server.wait { $0.contains { $0.status == 2 } })
        let stop = try #require(server.requests.first { $0.status == 2 })
        #expect(stop.hasValidAuthenticator(secret: server.secret))
        #expect(stop.integer(52) == 1 && stop.integer(53) == 1, "one wrap each way")
        #expect(stop.integer(42).map(UInt64.init) == poll.rxBytes && stop.integer(43).map(UInt64.init) == poll.txBytes)
        #expect(stop.inputBytes == poll.exactUpBytes && stop.outputBytes == poll.exactDownBytes)
        #expect(stop.integer(47).map(UInt64.init) == poll.rxPackets && stop.integer(48).map(UInt64.init) == poll.txPackets)
    }

    @Test func retransmitsWithANewIdentifierUntilAnswered() async throws {
        let server = try FakeAccountingServer { index, _ in index < 2 ? .ignore : .answer }
        defer { server.stop() }
        let client = try RADIUSAccountingClient.forTest(server, retransmitInterval: .milliseconds(600))
        client.start()
        defer { client.stop() }
        client.deliver([AccountingEvent(status: .accountingOn, sessionID: 0x1234_5678_9ABC_DEF0)])
        #expect(await client.wait { $0.answered == 1 })
        try await Task.sleep(for: .seconds(1.5))
        let requests = server.requests
        #expect(requests.count == 3, "answered at the second retransmission, then quiet")
        #expect(Set(requests.map(\.identifier)).count == 3, "each transmission has its own identifier")
        #expect(requests.allSatisfy { $0.content == requests[0].content }, "the same request apart from Acct-Delay-Time")
        #expect(requests.allSatisfy { $0.hasValidAuthenticator(secret: server.secret) })
        let delays = requests.map { $0.integer(41)! }
        #expect(delays.first == 0 && delays == delays.sorted() && delays.last! >= 1, "Acct-Delay-Time: whole seconds since the first try, \(delays)")
        #expect(requests[0].text(44) == "123456789ABCDEF0")
        #expect(client.statistics.sent == 1 && client.statistics.retransmitted == 2 && client.statistics.answered == 1
            && client.statistics.unanswered == 0 && client.statistics.pending == 0)
    }

    @Test func givesUpAfterThreeRetransmissions() async throws {
        let server = try FakeAccountingServer { _, _ in .ignore }
        defer { server.stop() }
        let log = InMemoryLogHandler()
        let client = try RADIUSAccountingClient.forTest(server, retransmitInterval: .milliseconds(200), log: log)
        client.start()
        defer { client.stop() }
        client.deliver([AccountingEvent(status: .accountingOff, sessionID: 7)])
        #expect(await client.wait { $0.unanswered == 1 })
        try await Task.sleep(for: .seconds(1))
        #expect(server.requests.count == 4, "the first transmission and three retransmissions")
        let stats = client.statistics
        #expect(stats.sent == 1 && stats.retransmitted == 3 && stats.unanswered == 1 && stats.answered == 0 && stats.pending == 0)
        #expect(log.entries.contains { $0.level == .warning && $0.message.contains("giving up") })
    }

    @Test func aBadResponseAuthenticatorIsIgnored() async throws {
        let server = try FakeAccountingServer { index, _ in index == 0 ? .badAuthenticator : .answer }
        defer { server.stop() }
        let client = try RADIUSAccountingClient.forTest(server, retransmitInterval: .milliseconds(300))
        client.start()
        defer { client.stop() }
        client.deliver([AccountingEvent(status: .accountingOn, sessionID: 1)])
        #expect(await client.wait { $0.answered == 1 })
        let stats = client.statistics
        // On a loaded machine a late good answer can cost one more round; never fewer.
        #expect(stats.dropped >= 1, "the badly signed answer was dropped")
        #expect(stats.retransmitted >= 1, "so the request went out again")
        #expect(server.requests.count >= 2 && stats.answered == 1)
    }

    @Test func responsesFromElsewhereOrForOtherRequestsAreDropped() async throws {
        let server = try FakeAccountingServer { _, _ in .ignore }
        defer { server.stop() }
        let client = try RADIUSAccountingClient.forTest(server, retransmitInterval: .seconds(30))
        client.start()
        defer { client.stop() }
        client.deliver([AccountingEvent(status: .accountingOn, sessionID: 1)])
        #expect(await server.wait { $0.count == 1 })
        let request = server.requests[0]
        let good = request.response(secret: server.secret)
        // The right answer from the wrong address.
        client.handle(good, from: IPv4Endpoint(host: "127.0.0.2", port: server.endpoint.port))
        // An answer for another identifier.
        var other = good
        other[1] &+= 1
        client.handle(other, from: server.endpoint)
        // Not an Accounting-Response.
        client.handle([2] + good.dropFirst(), from: server.endpoint)
        #expect(client.statistics.dropped == 3 && client.statistics.answered == 0)
        client.handle(good, from: server.endpoint)
        #expect(client.statistics.answered == 1 && client.statistics.pending == 0)
        // A duplicate answer finds nothing pending.
        client.handle(good, from: server.endpoint)
        #expect(client.statistics.dropped == 4 && client.statistics.answered == 1)
    }

    // MARK: - Command line and qlinkd.conf

    @Test func accountingOption() throws {
        #expect(try SimulatorOptions.parse(["--root", "/r"], workingDirectory: "/").accounting)
        #expect(try !SimulatorOptions.parse(["--root", "/r", "--accounting", "no"], workingDirectory: "/").accounting)
        #expect(try SimulatorOptions.parse(["--root", "/r", "--accounting", "yes"], workingDirectory: "/").accounting)
        #expect(throws: UsageError.self) { try SimulatorOptions.parse(["--root", "/r", "--accounting", "maybe"], workingDirectory: "/") }
    }

    @Test func qlinkdConfigurationNamesTheAccountingListener() {
        let conf = Simulator.qlinkdConfiguration(root: "/tmp/r", counterWidth: .bits32, openBTSPort: 1, gpsdPort: 2, accountingPort: 41999)
        #expect(conf.contains("""
            counter_bits = 32
            accounting = 127.0.0.1:41999
            accounting_secret_file = /tmp/r/hostapd/radius-secret

            [metering]
            """))
        let without = Simulator.qlinkdConfiguration(root: "/tmp/r", counterWidth: .bits32, openBTSPort: 1, gpsdPort: 2)
        #expect(!without.contains("accounting"))
        #expect(without.contains("counter_bits = 32\n\n[metering]"))
    }
}
