import HAL
@testable import HALLinux
import Logging
import Testing

/// gpsd's JSON protocol, and `GPSDClient` against `FakeGPSD` (the peer tests run the real gpsd).
@Suite("GPSDClient")
struct BoardGPSDTests {
    static let logger = Logger(label: "gpsd-test", level: .critical)
    static let fast = GPSDTiming(connectTimeout: .seconds(1), probeInterval: .milliseconds(200), probeTimeout: .seconds(3),
                                 fixStaleAfter: .seconds(2), initialBackoff: .milliseconds(20), maximumBackoff: .milliseconds(100))

    static func parse(_ line: String) throws -> GPSDReport { try GPSDReport.parse(Array(line.utf8)) }

    // MARK: - Parser

    @Test func parsesWhatGpsd322SendsAfterWatch() throws {
        #expect(try Self.parse(FakeGPSD.version) == .version(release: "3.22"))
        #expect(try Self.parse(#"{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/pts/1","activated":"2026-11-21T06:31:04.353Z","native":0,"bps":4800}]}"#)
                == .devices(["/dev/pts/1"]))
        #expect(try Self.parse(#"{"class":"DEVICES","devices":[]}"#) == .devices([]))
        #expect(try Self.parse(FakeGPSD.watch) == .watch(enabled: true))
        #expect(try Self.parse(#"{"class":"DEVICE","path":"/dev/pts/1","driver":"NMEA0183","activated":"2026-11-21T06:31:04.410Z"}"#)
                == .device(path: "/dev/pts/1", active: true))
        #expect(try Self.parse(#"{"class":"DEVICE","path":"/dev/pts/1","activated":0}"#) == .device(path: "/dev/pts/1", active: false))
        #expect(try Self.parse(#"{"class":"SKY","device":"/dev/pts/1","satellites":[]}"#) == .other("SKY"))
        #expect(try Self.parse(#"{"class":"ERROR","message":"Unrecognized request 'FOO'"}"#) == .error("Unrecognized request 'FOO'"))
    }

    @Test func aTPVWithMode3IsA3DFix() throws {
        let line = #"{"class":"TPV","device":"/dev/pts/1","mode":3,"time":"2026-11-21T06:30:56.000Z","ept":0.005,"lat":52.520000000,"lon":13.405000000,"altHAE":34.0000,"altMSL":34.0000,"alt":34.0000,"track":0.0000,"speed":0.000,"eph":17.100}"#
        guard case .tpv(let tpv) = try Self.parse(line) else { Issue.record("not a TPV"); return }
        let fix = tpv.fix(source: "gpsd 127.0.0.1:2947")
        #expect(fix == GPSFix(mode: .threeD, latitude: 52.52, longitude: 13.405, altitude: 34, time: "2026-11-21T06:30:56.000Z",
                              source: "gpsd 127.0.0.1:2947 /dev/pts/1"))
        #expect(fix.hasPosition)
        #expect(tpv.noFixReason == nil)
    }

    @Test func mode2HasNoAltitudeAndMode1Or0IsNoFixWithAReason() throws {
        guard case .tpv(let twoD) = try Self.parse(FakeGPSD.tpv(mode: 2, lat: -33.9, lon: 18.4, alt: 5)) else { Issue.record("not a TPV"); return }
        #expect(twoD.fix(source: "s").mode == .twoD)
        #expect(twoD.fix(source: "s").altitude == nil)

        guard case .tpv(let none) = try Self.parse(#"{"class":"TPV","device":"/dev/pts/1","mode":1}"#) else { Issue.record("not a TPV"); return }
        #expect(none.fix(source: "s") == GPSFix(mode: .none, source: "s /dev/pts/1"))
        #expect(none.noFixReason == "gpsd reports no fix from /dev/pts/1 (TPV mode 1: no satellites in view or not enough)")

        guard case .tpv(let unknown) = try Self.parse(#"{"class":"TPV","mode":0}"#) else { Issue.record("not a TPV"); return }
        #expect(!unknown.fix(source: "s").hasPosition)
        #expect(unknown.noFixReason == "gpsd has no fix data yet (TPV mode 0)")

        guard case .tpv(let bare) = try Self.parse(#"{"class":"TPV","mode":3,"lat":52.5}"#) else { Issue.record("not a TPV"); return }
        #expect(bare.fix(source: "s").mode == .none, "a 3D mode without a longitude is no fix")
        #expect(bare.noFixReason == "gpsd reports mode 3 without a position")
    }

    @Test func garbageIsAProtocolErrorNotACrash() {
        #expect(throws: GPSDProtocolError.self) { try Self.parse("hello") }
        #expect(throws: GPSDProtocolError.self) { try Self.parse(#"{"mode":3}"#) }
        #expect(throws: GPSDProtocolError.self) { try Self.parse(#"{"class":"TPV","mode":"three"}"#) }
        #expect(throws: GPSDProtocolError.self) { try Self.parse("") }
    }

    @Test func theLineBufferSplitsPartialAndCRLFLines() throws {
        var buffer = GPSDLineBuffer()
        #expect(try buffer.append(Array("{\"a\":1}\r\n{\"b\"".utf8)) == [Array("{\"a\":1}".utf8)])
        #expect(try buffer.append(Array(":2}\n\r\n".utf8)) == [Array("{\"b\":2}".utf8)])
        #expect(throws: GPSDProtocolError.self) { try buffer.append([UInt8](repeating: 0x41, count: GPSDLineBuffer.maximumLineLength + 1)) }
    }

    // MARK: - Client

    @Test func followsTheFixThenLosesItThenGpsdThenReconnects() async throws {
        let gpsd = try FakeGPSD()
        defer { gpsd.stop() }
        let client = GPSDClient(port: gpsd.port, logger: Self.logger, timing: Self.fast)
        let log = BoardEventLog()
        let runner = Task { try await client.run(events: log.sink) }
        defer { runner.cancel() }

        #expect(await log.wait { _ in client.status.link == .up })
        #expect(gpsd.received.first == #"?WATCH={"enable":true,"json":true};"#)
        #expect(client.status.problem == "connected to gpsd; no TPV report yet")

        await gpsd.broadcast(FakeGPSD.tpv(mode: 3, lat: 52.52, lon: 13.405, alt: 34))
        #expect(await log.wait { $0.contains { $0.name == "gps-fix" } })
        #expect(client.status.hasFix)
        #expect(client.status.fix?.latitude == 52.52)
        #expect(client.status.problem == nil)
        await gpsd.broadcast(FakeGPSD.tpv(mode: 3, lat: 52.52, lon: 13.405, alt: 34))

        await gpsd.broadcast(#"{"class":"TPV","device":"/dev/ttyFAKE0","mode":1}"#)
        #expect(await log.wait { $0.contains { $0.name == "gps-no-fix" } })
        #expect(!client.status.hasFix)
        #expect(client.status.problem?.contains("TPV mode 1") == true)
        #expect(client.status.lastPosition?.longitude == 13.405, "the last position is kept")

        gpsd.stop()
        #expect(await log.wait { $0.contains { $0.name == "degraded" } })
        #expect(client.status.link == .degraded)
        try gpsd.start()
        #expect(await log.wait { $0.contains { $0.name == "restored" } })
        #expect(client.status.link == .up)
        #expect(log.names == ["gps-fix", "gps-no-fix", "degraded", "restored"])

        runner.cancel()
        try await runner.value
        #expect(client.status.link == .down)
    }

    @Test func aSilentGpsdWithoutDevicesIsWatchedAgainAndStaysUp() async throws {
        let gpsd = try FakeGPSD()
        defer { gpsd.stop() }
        gpsd.setDevices([])
        let client = GPSDClient(port: gpsd.port, logger: Self.logger, timing: Self.fast)
        let log = BoardEventLog()
        let runner = Task { try await client.run(events: log.sink) }
        defer { runner.cancel() }
        #expect(await log.wait { _ in gpsd.received.filter { $0.hasPrefix("?WATCH") }.count >= 3 })
        #expect(client.status.link == .up)
        #expect(client.status.problem == "gpsd has no GPS device")
        #expect(log.events.isEmpty)
        #expect(gpsd.connections == 1, "the probes keep the one connection")

        // A device gpsd gets later is opened by the next WATCH, and its reports arrive.
        gpsd.setDevices(["/dev/ttyFAKE0"])
        #expect(await log.wait { _ in gpsd.received.filter { $0.hasPrefix("?WATCH") }.count >= 4 })
        await gpsd.broadcast(FakeGPSD.tpv(mode: 3, lat: 52.52, lon: 13.405, alt: 34))
        #expect(await log.wait { $0.contains { $0.name == "gps-fix" } })
    }

    @Test func aGpsdThatStopsAnsweringIsDroppedAndRetried() async throws {
        let gpsd = try FakeGPSD()
        defer { gpsd.stop() }
        let client = GPSDClient(port: gpsd.port, logger: Self.logger, timing: Self.fast)
        let log = BoardEventLog()
        let runner = Task { try await client.run(events: log.sink) }
        defer { runner.cancel() }
        #expect(await log.wait { _ in client.status.link == .up })
        gpsd.setAnswers(false)
        #expect(await log.wait { $0.contains { if case .degraded(client.name, let reason) = $0 { reason.hasPrefix("gpsd did not answer ?WATCH within") } else { false } } })
        #expect(await log.wait { _ in gpsd.connections >= 2 }, "it connects again")
        gpsd.setAnswers(true)
        #expect(await log.wait { $0.contains { $0.name == "restored" } })
    }

    @Test func aFixWithNoMoreReportsGoesStale() async throws {
        let gpsd = try FakeGPSD()
        defer { gpsd.stop() }
        var timing = Self.fast
        timing.fixStaleAfter = .milliseconds(300)
        let client = GPSDClient(port: gpsd.port, logger: Self.logger, timing: timing)
        let log = BoardEventLog()
        let runner = Task { try await client.run(events: log.sink) }
        defer { runner.cancel() }
        #expect(await log.wait { _ in client.status.link == .up })
        await gpsd.broadcast(FakeGPSD.tpv(mode: 2, lat: 1, lon: 2))
        #expect(await log.wait { $0.contains { $0.name == "gps-fix" } })
        #expect(await log.wait { $0.contains { $0.name == "gps-no-fix" } })
        #expect(client.status.problem?.hasPrefix("no TPV report from gpsd for") == true)
        #expect(client.status.link == .up)
    }

    @Test func noGpsdIsAClearStateAndCancellingReturnsPromptly() async throws {
        let gpsd = try FakeGPSD()
        let port = gpsd.port
        gpsd.stop()  // a port nobody listens on
        let client = GPSDClient(host: "localhost", port: port, logger: Self.logger, timing: Self.fast)
        #expect(client.name == "gpsd 127.0.0.1:\(port)")
        let log = BoardEventLog()
        let runner = Task { try await client.run(events: log.sink) }
        #expect(await log.wait { _ in client.status.problem?.contains("Connection refused") == true })
        #expect(client.status.link == .down)
        #expect(client.status.problem == "cannot reach gpsd at 127.0.0.1:\(port): connect 127.0.0.1:\(port): Connection refused")
        #expect(log.events.isEmpty, "never up, so nothing was lost")
        runner.cancel()
        try await runner.value  // returns on cancellation (a hang would fail the whole run)
    }

    @Test func runTwiceIsRejected() async throws {
        let gpsd = try FakeGPSD()
        defer { gpsd.stop() }
        let client = GPSDClient(port: gpsd.port, logger: Self.logger, timing: Self.fast)
        let runner = Task { try await client.run(events: { _ in }) }
        defer { runner.cancel() }
        let log = BoardEventLog()
        #expect(await log.wait { _ in client.status.link == .up })
        await #expect(throws: HALError.self) { try await client.run(events: { _ in }) }
    }
}
