@testable import OperatorCLI
import Posix
import Testing

/// Finding the control socket from `qlinkd.conf`, its drop-ins and the defaults.
@Suite struct ConfigTests {
    @Test func controlSocketWins() throws {
        let dir = TemporaryDirectory()
        try dir.file("qlinkd.conf", """
            # a comment
            [paths]
            runtime = /var/run/elsewhere
            ; another comment
            [control]
            socket = /srv/qlink/ctl.sock
            group = qlink
            [wifi]
            interface = wlan1
            """)
        #expect(try DaemonConfig.controlSocketPath(config: "\(dir.path)/qlinkd.conf") == "/srv/qlink/ctl.sock")
    }

    @Test func runtimeDirectoryIsTheFallback() throws {
        let dir = TemporaryDirectory()
        try dir.file("qlinkd.conf", "[paths]\r\nruntime = \"/tmp/sim/run/\"\r\n[control]\r\nsocket =\r\n")
        #expect(try DaemonConfig.controlSocketPath(config: "\(dir.path)/qlinkd.conf") == "/tmp/sim/run/qlinkd.sock")
    }

    @Test func neitherKeyMeansTheDefault() throws {
        let dir = TemporaryDirectory()
        try dir.file("qlinkd.conf", "[station]\nname = bs1\n")
        #expect(try DaemonConfig.controlSocketPath(config: "\(dir.path)/qlinkd.conf") == "/run/qlink/qlinkd.sock")
    }

    @Test func dropInsApplyInNameOrderAndLaterWins() throws {
        let dir = TemporaryDirectory()
        try dir.file("qlinkd.conf", "[control]\nsocket = /a.sock\n")
        try dir.file("qlinkd.conf.d/20-site.conf", "[control]\nsocket = /c.sock\n")
        try dir.file("qlinkd.conf.d/10-board.conf", "[control]\nsocket = /b.sock\n")
        try dir.file("qlinkd.conf.d/30-ignored.txt", "[control]\nsocket = /d.sock\n")
        try dir.file("qlinkd.conf.d/.99-hidden.conf", "[control]\nsocket = /e.sock\n")
        #expect(DaemonConfig.dropIns(of: "\(dir.path)/qlinkd.conf") == ["\(dir.path)/qlinkd.conf.d/10-board.conf", "\(dir.path)/qlinkd.conf.d/20-site.conf"])
        #expect(try DaemonConfig.controlSocketPath(config: "\(dir.path)/qlinkd.conf") == "/c.sock")
    }

    @Test func aDropInRuntimeDoesNotBeatAnExplicitSocket() throws {
        let dir = TemporaryDirectory()
        try dir.file("qlinkd.conf", "[control]\nsocket = /a.sock\n")
        try dir.file("qlinkd.conf.d/10-run.conf", "[paths]\nruntime = /r\n")
        #expect(try DaemonConfig.controlSocketPath(config: "\(dir.path)/qlinkd.conf") == "/a.sock")
    }

    @Test(arguments: [
        ("[control\nsocket = /x\n", 1, "malformed section header '[control' (expected [name])"),
        ("[control]\n\nsocket /x\n", 3, "expected 'key = value', got 'socket /x'"),
        ("socket = /x\n", 1, "'socket' is outside any [section]"),
        ("[control]\n = /x\n", 2, "missing key before '='"),
        ("[control]\nsocket = run/qlinkd.sock\n", 2, "control.socket: expected an absolute path, got 'run/qlinkd.sock'"),
    ])
    func malformedConfigsNameFileAndLine(text: String, line: Int, message: String) throws {
        let dir = TemporaryDirectory()
        try dir.file("qlinkd.conf", text)
        let path = "\(dir.path)/qlinkd.conf"
        #expect(throws: DaemonConfig.Failure.invalid(path: path, line: line, message: message)) {
            try DaemonConfig.controlSocketPath(config: path)
        }
    }

    @Test func configErrorsExitWithTheirStatus() async throws {
        let dir = TemporaryDirectory()
        let missing = try await runCLI(["--config", "\(dir.path)/nope.conf", "status"])
        #expect(missing.status == 66)
        #expect(missing.error == "qlinkctl: cannot read config \(dir.path)/nope.conf: No such file or directory\n")
        try dir.file("bad.conf", "[control]\nsocket\n")
        let bad = try await runCLI(["--config", "\(dir.path)/bad.conf", "status"])
        #expect(bad.status == 78)
        #expect(bad.error == "qlinkctl: \(dir.path)/bad.conf:2: expected 'key = value', got 'socket'\n")
    }

    @Test func theConfigLeadsTheCLIToTheDaemon() async throws {
        let dir = TemporaryDirectory()
        try FileSystem.createDirectory("\(dir.path)/run")
        let daemon = try FakeDaemon(path: "\(dir.path)/run/qlinkd.sock", respond: { _ in .lines([#"{"ok":true}"#]) })
        defer { daemon.stop() }
        try dir.file("qlinkd.conf", "[paths]\nruntime = \(dir.path)/run\n")
        let explicit = try await runCLI(["--config", "\(dir.path)/qlinkd.conf", "ping"])
        #expect(explicit.status == 0)
        #expect(explicit.output == "pong\n")
        let implicit = try await runCLI(["ping"], defaultConfig: "\(dir.path)/qlinkd.conf")
        #expect(implicit.status == 0)
        #expect(daemon.requests == ["ping", "ping"])
    }

    @Test func socketResolutionOrder() throws {
        let dir = TemporaryDirectory()
        try dir.file("qlinkd.conf", "[control]\nsocket = /from/default.sock\n")
        try dir.file("broken.conf", "nonsense\n")
        var arguments = Arguments()
        var warnings: [String] = []
        let config = "\(dir.path)/qlinkd.conf"
        #expect(try QlinkCtl.resolveSocket(arguments, defaultConfig: "\(dir.path)/absent.conf") { warnings.append($0) } == "/run/qlink/qlinkd.sock")
        #expect(try QlinkCtl.resolveSocket(arguments, defaultConfig: config) { warnings.append($0) } == "/from/default.sock")
        #expect(warnings.isEmpty)
        #expect(try QlinkCtl.resolveSocket(arguments, defaultConfig: "\(dir.path)/broken.conf") { warnings.append($0) } == "/run/qlink/qlinkd.sock")
        #expect(warnings == ["warning: \(dir.path)/broken.conf:1: expected 'key = value', got 'nonsense'; using /run/qlink/qlinkd.sock"])
        arguments.socket = "/explicit.sock"
        #expect(try QlinkCtl.resolveSocket(arguments, defaultConfig: config) { _ in } == "/explicit.sock")
        arguments.socket = nil
        arguments.config = "\(dir.path)/broken.conf"
        #expect(throws: DaemonConfig.Failure.self) { try QlinkCtl.resolveSocket(arguments, defaultConfig: config) { _ in } }
    }
}
