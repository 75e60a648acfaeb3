import Control
import Glibc
@testable import OperatorCLI
import Posix
import Testing

/// `qlinkctl` against a fake daemon on a Unix socket in a temporary directory.
@Suite struct ClientTests {
    static let status = StatusReport(version: "0.1.0", uptimeSeconds: 3725, board: "sim", station: "bs1", wifi: "up",
                                     wifiDetail: nil, subscribers: 2, pid: 4242)
    static let subscribers = [
        SubscriberReport(id: "mac:02:00:00:00:00:01", kind: "wifi", upBytes: 1_500_000, downBytes: 20_000_000, connectedSeconds: 65,
                         connected: true, upRate: 1500, downRate: 20000, signalDBm: -55),
        SubscriberReport(id: "imsi:001010000000001", kind: "lte", upBytes: 999, downBytes: 5000, connectedSeconds: 3,
                         connected: true, upRate: 100_000, downRate: 0, signalDBm: nil),
        SubscriberReport(id: "mac:02:00:00:00:00:03", kind: "wifi", upBytes: 7, downBytes: 8, connectedSeconds: 0,
                         connected: false, upRate: 0, downRate: 0, signalDBm: nil),
    ]

    /// Answers `status` and `subscribers` with the reports above, everything else with `ok:false`.
    static func standard(_ request: ControlRequest) -> FakeDaemon.Response {
        switch request.command {
        case "status": .lines([try! replyLine(status)])
        case "subscribers": .lines([try! replyLine(subscribers)])
        case "ping": .lines([#"{"ok":true,"result":"pong"}"#])
        default: .lines([#"{"ok":false,"error":"unknown command '\#(request.command)'"}"#])
        }
    }

    @Test func statusJSONRoundTripsTheReport() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/qlinkd.sock", respond: Self.standard)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "status", "--json"])
        #expect(run.status == 0)
        #expect(run.error == "")
        #expect(run.output == (try jsonLine(Self.status)) + "\n")
        let decoded = try ControlProtocol.decode(StatusReport.self, from: Array(run.output.utf8.dropLast()))
        #expect(decoded == Self.status)
        #expect(daemon.requests == ["status"])
    }

    @Test func statusJSONKeepsKeysThisVersionDoesNotKnowAndSortsThem() async throws {
        let dir = TemporaryDirectory()
        let line = #"{"result":{"wifi":"degraded","zeta":[1,2],"version":"9","uptime_s":18446744073709551615,"board":"b","station":"s","subscribers":0,"pid":1,"alpha":{"y":true,"x":null}},"ok":true}"#
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .lines([line]) })
        defer { daemon.stop() }
        let run = try await runCLI(["status", "--socket=\(daemon.path)", "--json"])
        #expect(run.status == 0)
        #expect(run.output == #"{"alpha":{"x":null,"y":true},"board":"b","pid":1,"station":"s","subscribers":0,"uptime_s":18446744073709551615,"version":"9","wifi":"degraded","zeta":[1,2]}"# + "\n")
    }

    @Test func statusForPeople() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: Self.standard)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "status"])
        #expect(run.status == 0)
        #expect(run.output == """
            qlinkd       0.1.0 (pid 4242)
            uptime       1h02m
            board        sim
            station      bs1
            wifi         up
            subscribers  2

            """)
    }

    @Test func subscribersJSONRoundTripsTheReports() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: Self.standard)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "subscribers", "--json"])
        #expect(run.status == 0)
        #expect(run.output == (try jsonLine(Self.subscribers)) + "\n")
        #expect(!run.output.dropLast().contains("\n"))
        let decoded = try ControlProtocol.decode([SubscriberReport].self, from: Array(run.output.utf8.dropLast()))
        #expect(decoded == Self.subscribers)
    }

    @Test func subscribersTable() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: Self.standard)
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "subscribers"])
        #expect(run.status == 0)
        #expect(run.output == """
            ID                     KIND      UP     DOWN  CONNECTED   SIGNAL
            mac:02:00:00:00:00:01  wifi  1.5 MB  20.0 MB      1m05s  -55 dBm
            imsi:001010000000001   lte    999 B   5.0 kB         3s        -
            mac:02:00:00:00:00:03  wifi     7 B      8 B          -        -

            """)
    }

    @Test func pingAndAFailedRequest() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: Self.standard)
        defer { daemon.stop() }
        let ping = try await runCLI(["--socket", daemon.path, "ping"])
        #expect(ping.status == 0)
        #expect(ping.output == "pong\n")
        let reload = try await runCLI(["--socket", daemon.path, "reload"])
        #expect(reload.status == 1)
        #expect(reload.output == "")
        #expect(reload.error == "qlinkctl: qlinkd: unknown command 'reload'\n")
    }

    @Test func reloadPrintsTheReply() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in
            .lines([#"{"ok":true,"result":{"changed":["log.level"],"restart_needed":"wifi.interface"}}"#])
        })
        defer { daemon.stop() }
        let human = try await runCLI(["--socket", daemon.path, "reload"])
        #expect(human.status == 0)
        #expect(human.output == "changed         [\"log.level\"]\nrestart_needed  wifi.interface\n")
        let json = try await runCLI(["--socket", daemon.path, "reload", "--json"])
        #expect(json.output == #"{"changed":["log.level"],"restart_needed":"wifi.interface"}"# + "\n")
        #expect(daemon.requests == ["reload", "reload"])
    }

    @Test func reloadSummaryStringIsPrintedAsIs() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .lines([#"{"ok":true,"result":"log.level: info -> debug"}"#]) })
        defer { daemon.stop() }
        let human = try await runCLI(["--socket", daemon.path, "reload"])
        #expect(human.output == "log.level: info -> debug\n")
        let json = try await runCLI(["--socket", daemon.path, "reload", "--json"])
        #expect(json.output == #""log.level: info -> debug""# + "\n")
    }

    @Test func missingSocketMeansNotRunning() async throws {
        let dir = TemporaryDirectory()
        let path = "\(dir.path)/qlinkd.sock"
        let run = try await runCLI(["--socket", path, "status"])
        #expect(run.status == 69)
        #expect(run.output == "")
        #expect(run.error == "qlinkctl: qlinkd is not running (no socket at \(path))\n")
    }

    @Test func staleSocketMeansNotRunning() async throws {
        let dir = TemporaryDirectory()
        let stale = try UnixSocketFixture.boundButNotListening("\(dir.path)/stale.sock")
        defer { stale.close() }
        let run = try await runCLI(["--socket", "\(dir.path)/stale.sock", "ping"])
        #expect(run.status == 69)
        #expect(run.error.contains("qlinkd is not running"))
    }

    @Test func garbageReplyIsAProtocolError() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .raw("HTTP/1.1 400 Bad Request\n") })
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "status"])
        #expect(run.status == 76)
        #expect(run.output == "")
        #expect(run.error == "qlinkctl: garbled reply from qlinkd: 'HTTP/1.1 400 Bad Request' is not a reply line\n")
    }

    @Test(arguments: [
        ("{\"ok\":true,\"result\":{\"version\":\"1\"}}\n", "missing"),
        ("{\"ok\":true,\"res", "middle of a line"),
        ("{\"result\":{}}\n", "is not a reply line"),
    ])
    func malformedRepliesAreProtocolErrors(reply: String, complaint: String) async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .raw(reply) })
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "status", "--json"])
        #expect(run.status == 76)
        #expect(run.output == "")
        #expect(run.error.contains(complaint), "\(run.error)")
    }

    @Test func hangUpWithoutReplyMeansUnavailable() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .linesThenClose([]) })
        defer { daemon.stop() }
        let run = try await runCLI(["--socket", daemon.path, "ping"])
        #expect(run.status == 69)
        #expect(run.error.contains("closed the connection"))
    }

    @Test func silentDaemonTimesOut() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .silence })
        defer { daemon.stop() }
        let run = try await runCLI(["--timeout", "0.2", "--socket", daemon.path, "status"])
        #expect(run.status == 75)
        #expect(run.error.contains("did not answer in time"))
    }

    @Test func interruptedOneShotCommandExitsWith128PlusSignal() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: { _ in .silence })
        defer { daemon.stop() }
        let stop = ManualInterrupt()
        async let run = runCLI(["--timeout", "60", "--socket", daemon.path, "status"], interrupt: stop.interrupt)
        #expect(await daemon.wait { $0.requests == ["status"] })
        stop.fire(SIGINT)
        let result = try await run
        #expect(result.status == 130)
        #expect(result.error == "")
    }

    @Test func permissionDeniedMapsToNoPerm() {
        let error = ClientError.classify(SystemError(.accessDenied, "connect /run/qlink/qlinkd.sock"), path: "/run/qlink/qlinkd.sock", doing: "connecting")
        #expect(error == .permissionDenied(path: "/run/qlink/qlinkd.sock"))
        #expect(error.exitStatus == 77)
        #expect(ClientError.classify(SystemError(.connectionRefused, ""), path: "p", doing: "").exitStatus == 69)
        #expect(ClientError.classify(SystemError(.timedOut, ""), path: "p", doing: "").exitStatus == 75)
        #expect(ClientError.classify(SystemError(.noSpace, ""), path: "p", doing: "").exitStatus == 74)
    }

    @Test(.enabled(if: geteuid() != 0, "root connects regardless of the socket's mode"))
    func unreadableSocketIsPermissionDenied() async throws {
        let dir = TemporaryDirectory()
        let daemon = try FakeDaemon(path: "\(dir.path)/s", respond: Self.standard)
        defer { daemon.stop() }
        chmod(daemon.path, 0)
        let run = try await runCLI(["--socket", daemon.path, "status"])
        #expect(run.status == 77)
        #expect(run.error.contains("permission denied"))
    }
}

/// A socket file nobody listens on, as a crashed daemon leaves behind.
enum UnixSocketFixture {
    static func boundButNotListening(_ path: String) throws -> UnixSocket {
        let socket = try UnixSocket(.stream)
        try socket.bind(path)
        return socket
    }
}
