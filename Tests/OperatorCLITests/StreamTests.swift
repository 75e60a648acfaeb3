import Control
import Glibc
@testable import OperatorCLI
import Synchronization
import Testing

/// `events` and `top` against a fake daemon.
@Suite struct StreamTests {
    static let events = [
        EventReport(time: 1_700_000_000_000, event: "station-connected", subscriber: "mac:02:00:00:00:00:01", detail: "rssi -50"),
        EventReport(time: 1_700_000_061_500, event: "degraded", subscriber: nil, detail: "hostapd not answering"),
        EventReport(time: 1_700_000_062_000, event: "station-disconnected", subscriber: "mac:02:00:00:00:00:01", detail: nil),
    ]

    static func eventDaemon(_ dir: borrowing TemporaryDirectory, hold: Bool) throws -> FakeDaemon {
        let lines = try [#"{"ok":true}"#] + events.map(jsonLine)
        return try FakeDaemon(path: "\(dir.path)/s", respond: { request in
            guard request.command == "events" else { return .lines([#"{"ok":false,"error":"no"}"#]) }
            return hold ? .linesThenHold(lines) : .linesThenClose(lines)
        })
    }

    @Test func eventsJSONPrintsTheLinesAsSentUntilTheDaemonCloses() async throws {
        let dir = TemporaryDirectory()
        let daemon = try Self.eventDaemon(dir, hold: false)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "events", "--json"])
        #expect(run.status == 0)
        #expect(run.error == "")
        #expect(run.output == (try Self.events.map(jsonLine).joined(separator: "\n")) + "\n")
        #expect(daemon.requests == ["events"])
    }

    @Test func eventsForPeople() async throws {
        let dir = TemporaryDirectory()
        let daemon = try Self.eventDaemon(dir, hold: false)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "events"])
        #expect(run.status == 0)
        let expected = Self.events.map { event in
            let clock = Format.clockTime(milliseconds: event.time, utcOffsetSeconds: System.utcOffsetSeconds(atMilliseconds: event.time))
            return clock + [" station-connected mac:02:00:00:00:00:01 rssi -50", " degraded - hostapd not answering",
                            " station-disconnected mac:02:00:00:00:00:01"][Self.events.firstIndex(of: event)!]
        }
        #expect(run.output == expected.joined(separator: "\n") + "\n")
    }

    @Test func eventLineInUTC() {
        #expect(Command.eventLine(Self.events[0], utcOffsetSeconds: 0) == "22:13:20 station-connected mac:02:00:00:00:00:01 rssi -50")
        #expect(Command.eventLine(Self.events[1], utcOffsetSeconds: 3600) == "23:14:21 degraded - hostapd not answering")
    }

    @Test func eventsRunUntilInterruptedThenExitZeroAndHangUp() async throws {
        let dir = TemporaryDirectory()
        let daemon = try Self.eventDaemon(dir, hold: true)
        defer { daemon.stop() }
        let stop = ManualInterrupt()
        let output = BufferedOutput()
        async let run = runCLI(["--socket", daemon.path, "events", "--json"], interrupt: stop.interrupt, output: output)
        #expect(await output.wait { $0.split(separator: "\n", omittingEmptySubsequences: false).count == 4 }, "all three events arrive before the interrupt")
        #expect(daemon.finishedConnections == 0, "the stream is still open")
        stop.fire(SIGTERM)
        let result = try await run
        #expect(result.status == 0)
        #expect(result.error == "")
        #expect(await daemon.wait { $0.finishedConnections == 1 }, "the CLI hung up")
    }

    @Test func eventsRefusedByTheDaemon() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .lines([#"{"ok":false,"error":"too many clients"}"#]) })
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "events"])
        #expect(run.status == 1)
        #expect(run.error == "qlinkctl: qlinkd: too many clients\n")
    }

    @Test func aGarbledEventEndsTheStream() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .linesThenHold([#"{"ok":true}"#, "<<garbage>>"]) })
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "events"])
        #expect(run.status == 76)
        #expect(run.error.contains("'<<garbage>>' is not an event"))
    }

    /// A daemon whose subscribers' rates change between refreshes, so the order does.
    static func topDaemon(_ dir: borrowing TemporaryDirectory) throws -> FakeDaemon {
        let refresh = Mutex(0)
        return try FakeDaemon(path: "\(dir.path)/s", respond: { request in
            switch request.command {
            case "status":
                return .lines([try! replyLine(ClientTests.status)])
            case "subscribers":
                let n = refresh.withLock { $0 += 1; return $0 }
                var reports = ClientTests.subscribers
                if n == 2 { reports[0].downRate = 2_000_000 }
                return .lines([try! replyLine(reports)])
            default:
                return .lines([#"{"ok":false,"error":"no"}"#])
            }
        })
    }

    @Test func topCountTwoPrintsTwoPlainBlocks() async throws {
        let dir = TemporaryDirectory()
        let daemon = try Self.topDaemon(dir)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "top", "--count", "2", "--interval", "0.1"])
        #expect(run.status == 0)
        #expect(run.error == "")
        #expect(!run.output.contains("\u{1B}"))
        #expect(run.output == """
            station bs1   wifi up   subscribers 2   up 101.5 kB/s   down 20.0 kB/s

            ID                     KIND        UP/S     DOWN/S      UP     DOWN  CONNECTED   SIGNAL
            imsi:001010000000001   lte   100.0 kB/s      0 B/s   999 B   5.0 kB         3s        -
            mac:02:00:00:00:00:01  wifi    1.5 kB/s  20.0 kB/s  1.5 MB  20.0 MB      1m05s  -55 dBm

            station bs1   wifi up   subscribers 2   up 101.5 kB/s   down 2.0 MB/s

            ID                     KIND        UP/S    DOWN/S      UP     DOWN  CONNECTED   SIGNAL
            mac:02:00:00:00:00:01  wifi    1.5 kB/s  2.0 MB/s  1.5 MB  20.0 MB      1m05s  -55 dBm
            imsi:001010000000001   lte   100.0 kB/s     0 B/s   999 B   5.0 kB         3s        -

            """)
        #expect(daemon.requests == ["status", "subscribers", "status", "subscribers"])
    }

    @Test func topOnATerminalRedrawsTheScreen() async throws {
        let dir = TemporaryDirectory()
        let daemon = try Self.topDaemon(dir)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "top", "--count=2", "--interval=100ms"], terminal: true)
        #expect(run.status == 0)
        let frames = run.output.split(separator: "\u{1B}[H\u{1B}[2J", omittingEmptySubsequences: false)
        #expect(frames.count == 3)
        #expect(frames.first == "")
        #expect(frames.dropFirst().allSatisfy { $0.hasPrefix("station bs1   wifi up") })
    }

    @Test func topJSONPrintsOneObjectPerRefresh() async throws {
        let dir = TemporaryDirectory()
        let daemon = try Self.topDaemon(dir)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "top", "--count", "1", "--json"])
        #expect(run.status == 0)
        #expect(run.output == #"{"status":\#(try jsonLine(ClientTests.status)),"subscribers":\#(try jsonLine(ClientTests.subscribers))}"# + "\n")
    }

    @Test func topStopsWhenTheDaemonGoesAway() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { request in
            request.command == "status" ? .lines([try! replyLine(ClientTests.status)]) : .linesThenClose([])
        })
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "top"])
        #expect(run.status == 69)
        #expect(run.error.contains("closed the connection"))
    }
}
