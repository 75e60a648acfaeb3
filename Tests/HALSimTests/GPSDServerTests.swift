import HAL
@testable import HALSim
import Logging
import Posix
import Testing

/// The emulated gpsd over a real socket, the way a gpsd client reaches it.
@Suite struct GPSDServerTests {
    /// Reads `\r\n`-terminated JSON lines until `count` arrived or the deadline passed.
    static func lines(_ socket: TCPSocket, count: Int, pending: inout String, within timeout: Duration = .seconds(30)) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        var lines: [String] = []
        while lines.count < count {
            // "\r\n" is one Character.
            while let end = pending.firstIndex(of: "\r\n") {
                lines.append(String(pending[..<end]))
                pending = String(pending[pending.index(after: end)...])
                if lines.count == count { return lines }
            }
            let bytes: [UInt8]
            do { bytes = try await socket.receive(deadline: deadline) } catch let error as SystemError where error.errno == .timedOut { break }
            if bytes.isEmpty { break }
            pending += String(decoding: bytes, as: UTF8.self)
        }
        return lines
    }

    @Test func watchStreamsTPVsEverySecondAndPollAnswers() async throws {
        var scenario = Scenario.everyoneOnline()
        scenario.position = GPSPosition(latitude: 48.137154, longitude: 11.576124, altitude: 519)
        let world = World(configuration: WorldConfiguration(scenario: scenario))
        let server = try GPSDServer(world: world, logger: Logger(label: "test", handler: InMemoryLogHandler()))
        server.start()
        defer { server.stop() }
        #expect(server.port != 0)
        let socket = try await TCPSocket.connect(host: "127.0.0.1", port: server.port, deadline: .now + .seconds(30))
        defer { socket.close() }
        var pending = ""
        let greeting = try await Self.lines(socket, count: 1, pending: &pending)
        #expect(greeting == [#"{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}"#])

        try await socket.send(Array(#"?WATCH={"enable":true,"json":true};"#.utf8))
        let started = ContinuousClock.now
        let watch = try await Self.lines(socket, count: 5, pending: &pending)
        #expect(watch.count == 5)
        #expect(watch[0].hasPrefix(#"{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/ttyACM0","#))
        #expect(watch[1] == #"{"class":"WATCH","enable":true,"json":true,"nmea":false,"raw":0,"scaled":false,"timing":false,"split24":false,"pps":false}"#)
        #expect(watch[2].hasPrefix(#"{"class":"DEVICE","path":"/dev/ttyACM0","driver":"NMEA0183","#))
        for tpv in watch[3...] {
            #expect(tpv.hasPrefix(#"{"class":"TPV","device":"/dev/ttyACM0","mode":3,"time":"20"#))
            #expect(tpv.contains(#""lat":48.137154000,"lon":11.576124000,"#) && tpv.contains(#""alt":519.0000,"#))
            #expect(tpv.contains(".000Z\",\"ept\":0.005,"))
        }
        #expect(ContinuousClock.now - started >= .milliseconds(900), "one TPV a second")

        try await socket.send(Array("?POLL;".utf8))
        var poll = ""
        for line in try await Self.lines(socket, count: 2, pending: &pending) where line.hasPrefix(#"{"class":"POLL""#) { poll = line }
        if poll.isEmpty { poll = try await Self.lines(socket, count: 1, pending: &pending).first ?? "" }
        #expect(poll.hasPrefix(#"{"class":"POLL","time":""#) && poll.contains(#""active":1,"tpv":[{"class":"TPV","#))

        // No fix: mode 1 TPVs, exactly as gpsd prints them.
        _ = try world.inject(.gps(fix: false))
        var lost: [String] = []
        for _ in 0..<3 where !lost.contains(#"{"class":"TPV","device":"/dev/ttyACM0","mode":1}"#) {
            lost += try await Self.lines(socket, count: 1, pending: &pending)
        }
        #expect(lost.contains(#"{"class":"TPV","device":"/dev/ttyACM0","mode":1}"#))

        try await socket.send(Array("?FOO;".utf8))
        try await socket.send(Array(#"?WATCH={"enable":false};"#.utf8))
        var rest: [String] = []
        for _ in 0..<4 where !rest.contains(where: { $0.hasPrefix(#"{"class":"WATCH","enable":false"#) }) {
            rest += try await Self.lines(socket, count: 1, pending: &pending)
        }
        #expect(rest.contains(#"{"class":"ERROR","message":"Unrecognized request '?FOO'"}"#))
        #expect(rest.contains { $0.hasPrefix(#"{"class":"WATCH","enable":false,"#) })
        // Nothing more streams once watching stopped.
        #expect(try await Self.lines(socket, count: 1, pending: &pending, within: .milliseconds(1500)).isEmpty)
    }

    @Test func isoTimeIsUTCWithMilliseconds() {
        #expect(GPSDFormats.isoTime(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(GPSDFormats.isoTime(milliseconds: 1_700_000_000_123) == "2023-11-14T22:13:20.123Z")
    }
}
