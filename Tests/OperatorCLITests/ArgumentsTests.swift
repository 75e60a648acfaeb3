@testable import OperatorCLI
import Testing

/// Parsing the command line by hand: what is accepted, what is refused and how.
@Suite struct ArgumentsTests {
    func parse(_ arguments: [String]) throws(UsageError) -> Arguments {
        try Arguments.parse(arguments, commands: Command.all)
    }

    @Test func globalOptionsBeforeTheCommand() throws {
        let parsed = try parse(["--socket", "/tmp/q.sock", "--timeout", "250ms", "status", "--json"])
        #expect(parsed.command == "status")
        #expect(parsed.socket == "/tmp/q.sock")
        #expect(parsed.config == nil)
        #expect(parsed.timeout == .milliseconds(250))
        #expect(parsed.json)
        #expect(!parsed.help)
    }

    @Test func globalOptionsAfterTheCommandAndInlineValues() throws {
        let parsed = try parse(["subscribers", "--config=/etc/qlink/other.conf", "--json", "--timeout=2"])
        #expect(parsed.command == "subscribers")
        #expect(parsed.config == "/etc/qlink/other.conf")
        #expect(parsed.timeout == .seconds(2))
        #expect(parsed.json)
    }

    @Test func defaults() throws {
        let parsed = try parse(["ping"])
        #expect(parsed.timeout == .seconds(5))
        #expect(parsed.socket == nil && parsed.config == nil && !parsed.json)
        #expect(parsed.options.isEmpty && parsed.positionals.isEmpty)
    }

    @Test func commandOptions() throws {
        let parsed = try parse(["top", "--interval", "0.5", "--count=3"])
        #expect(parsed.options == ["interval": "0.5", "count": "3"])
        #expect(try parsed.duration("interval", in: .milliseconds(100) ... .seconds(60)) == .milliseconds(500))
        #expect(try parsed.integer("count", in: 1 ... 10) == 3)
        #expect(try parsed.integer("absent", in: 1 ... 10) == nil)
    }

    @Test func helpForms() throws {
        #expect(try parse(["--help"]).help)
        #expect(try parse(["-h"]).help)
        let topHelp = try parse(["top", "--help"])
        #expect(topHelp.help && topHelp.command == "top")
        let helpCommand = try parse(["help", "events"])
        #expect(helpCommand.command == "help" && helpCommand.positionals == ["events"])
    }

    @Test(arguments: [
        (["bogus"], "unknown command 'bogus'"),
        (["status", "--bogus"], "unknown option '--bogus' for 'status'"),
        (["--count", "2", "top"], "unknown option '--count' (a command's options go after the command)"),
        (["-x", "status"], "unknown option '-x'"),
        (["status", "--socket"], "option --socket needs a value"),
        (["status", "--socket="], "option --socket needs a value"),
        (["--socket", "/a", "--config", "/b", "status"], "give --socket or --config, not both"),
        (["help", "--json"], "'help' has no --json output"),
        (["status", "extra"], "unexpected argument 'extra' for 'status'"),
        (["help", "top", "events"], "unexpected argument 'events' for 'help'"),
        (["--timeout", "0", "status"], "--timeout needs a number of seconds from 0.001 to 3600, got '0'"),
        (["--timeout", "soon", "status"], "--timeout needs a number of seconds from 0.001 to 3600, got 'soon'"),
        (["--json=yes", "status"], "option --json takes no value"),
    ])
    func refused(arguments: [String], message: String) {
        #expect(throws: UsageError.self) { try parse(arguments) }
        do {
            _ = try parse(arguments)
        } catch {
            #expect(error.message == message)
        }
    }

    @Test func badOptionValuesAreRefusedWhenRead() throws {
        let parsed = try parse(["top", "--interval", "abc", "--count", "0"])
        #expect(throws: UsageError.self) { try parsed.duration("interval", in: .milliseconds(100) ... .seconds(60)) }
        #expect(throws: UsageError.self) { try parsed.integer("count", in: 1 ... 10) }
        let tooFast = try parse(["top", "--interval", "0.01"])
        #expect(throws: UsageError.self) { try tooFast.duration("interval", in: .milliseconds(100) ... .seconds(60)) }
    }

    @Test func durations() {
        #expect(Arguments.parseDuration("2") == .seconds(2))
        #expect(Arguments.parseDuration("2s") == .seconds(2))
        #expect(Arguments.parseDuration("1.5") == .milliseconds(1500))
        #expect(Arguments.parseDuration("750ms") == .milliseconds(750))
        #expect(Arguments.parseDuration("") == nil)
        #expect(Arguments.parseDuration("-1") == nil)
        #expect(Arguments.parseDuration("1e3") == nil)
        #expect(Arguments.parseDuration("s") == nil)
    }

    @Test func usageErrorsExit64WithUsageOnStandardError() async throws {
        let run = try await runCLI(["status", "--bogus"])
        #expect(run.status == 64)
        #expect(run.output == "")
        #expect(run.error == "qlinkctl: unknown option '--bogus' for 'status'\nusage: qlinkctl status [--json]\nTry 'qlinkctl --help'.\n")
        let none = try await runCLI([])
        #expect(none.status == 64)
        #expect(none.error.hasPrefix("qlinkctl: no command given\nusage: qlinkctl "))
        let badValue = try await runCLI(["--socket", "/nonexistent/s", "top", "--count", "0"])
        #expect(badValue.status == 64)
        #expect(badValue.error.hasPrefix("qlinkctl: --count needs a whole number from 1 to "))
    }

    @Test func helpListsEveryCommandOnStandardOutput() async throws {
        for arguments in [["--help"], ["help"], ["-h"]] {
            let run = try await runCLI(arguments)
            #expect(run.status == 0)
            #expect(run.error == "")
            #expect(run.output.hasPrefix("usage: qlinkctl [--socket PATH | --config FILE]"))
            for command in Command.all {
                #expect(run.output.contains("\n  \(command.name)"), "\(command.name) is listed")
            }
            #expect(run.output.contains("69 qlinkd not running"))
        }
    }

    @Test func commandHelp() async throws {
        let run = try await runCLI(["help", "top"])
        #expect(run.status == 0)
        #expect(run.output.hasPrefix("usage: qlinkctl [--socket PATH | --config FILE] top [--interval S] [--count N] [--json]\n"))
        #expect(run.output.contains("--count N"))
        let same = try await runCLI(["top", "--help"])
        #expect(same.output == run.output)
        let unknown = try await runCLI(["help", "nope"])
        #expect(unknown.status == 64)
    }

    @Test func commandNamesAreUnique() {
        #expect(Set(Command.all.map(\.name)).count == Command.all.count)
    }
}
