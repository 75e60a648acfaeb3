import HAL
@testable import HALSim
import Logging
import Posix
import Testing

/// Detaches, blocking and radio restarts through the OpenBTS endpoint, on a manual clock.
@Suite struct OpenBTSLifecycleTests {
    typealias Harness = OpenBTSServerTests.Harness

    @Test func detachBySGSNFreeAndTMSIDeleteThenTheUEReturns() async throws {
        let h = try Harness(ues: 3)
        defer { withExtendedLifetime(h) {} }
        let c = try await h.client()
        let imsis = h.world.ues().map(\.imsi)
        #expect(imsis.count == 3)
        #expect(try await c.request("sgsn free imsi \(imsis[0])") == "", "success prints nothing")
        #expect(!(try await c.request("gprs list")).contains("imsi=\(imsis[0])"), "its records stay listed, without a GMM context")
        #expect(try await c.request("sgsn free imsi \(imsis[0])") == "sgsn:SGSN record for imsi '\(imsis[0])' not found\n")
        #expect(try await c.request("sgsn free imsi") == "sgsn:wrong number of arguments\n")
        #expect(try await c.request("tmsis delete -imsi \(imsis[1])") == "Deleted TMSI table entry for \(imsis[1])\n")
        #expect(try await c.request("tmsis delete") == "expecting: -tmsi or -imsi option\ncommand failed\n")
        #expect(try await c.request("tmsis -x") == "unrecognized argument: -x\n")
        #expect(h.world.ues().map(\.imsi) == [imsis[2]])
        let tmsis = try await c.request("tmsis")
        #expect(tmsis.contains(imsis[0]) && !tmsis.contains(imsis[1]) && tmsis.contains(imsis[2]), "tmsis keeps IMSIs that did a location update")
        #expect(tmsis.hasPrefix("IMSI            TMSI       IMEI AUTH CREATED ACCESSED TMSI_ASSIGNED \n"))
        // They try again after the reconnect delay (20 s ± 25 %).
        h.world.advance(14, of: .seconds(1))
        #expect(h.world.ues().count == 1)
        for _ in 0..<12 where !h.world.ues().contains(where: { $0.imsi == imsis[1] }) { h.world.advance(by: .seconds(1)) }
        #expect(try await c.request("chans").contains(imsis[1]), "a fresh location update holds an SDCCH")
        h.world.advance(12, of: .seconds(1))
        #expect(Set(h.world.ues().map(\.imsi)) == Set(imsis))
        #expect(try await c.request("chans").split(separator: "\n").count == 2, "no SDCCH held any more: the two header rows")
        let after = try await c.request("tmsis")
        let rows = after.split(separator: "\n").dropFirst()
        #expect(rows.count == 3)
        #expect(rows.first.map { $0.hasPrefix(imsis[0]) || $0.hasPrefix(imsis[1]) } == true, "newest first")
        #expect(h.world.truth().count == 4, "truth keeps everyone who ever attached")
    }

    @Test func openRegistrationAndItsRejectPatternBlockAttaches() async throws {
        let h = try Harness(ues: 3)
        defer { withExtendedLifetime(h) {} }
        let c = try await h.client()
        let imsis = h.world.ues().map(\.imsi)
        #expect(try await c.request("config Control.LUR.OpenRegistration.Reject ^(\(imsis[0])|\(imsis[1]))$").contains("changed from"))
        #expect(try await c.request("sgsn free imsi \(imsis[0])") == "")
        #expect(try await c.request("tmsis delete -imsi \(imsis[1])") == "Deleted TMSI table entry for \(imsis[1])\n")
        h.world.advance(60, of: .seconds(1))
        #expect(h.world.ues().map(\.imsi) == [imsis[2]], "blocked IMSIs cannot attach")
        #expect(h.world.status().ueRejections >= 2)
        let rows = try await c.request("tmsis").split(separator: "\n").map { $0.split(separator: " ") }
        let kept = try #require(rows.first { $0.first.map(String.init) == imsis[0] })
        #expect(kept[1].hasPrefix("0x") && kept[2] == "0", "rejected: the row keeps its TMSI, AUTH 0")
        let fresh = try #require(rows.first { $0.first.map(String.init) == imsis[1] })
        #expect(fresh[1] == "-" && fresh[2] == "0" && fresh.last == "0", "rejected first update: no TMSI assigned")
        #expect(try await c.request("unconfig Control.LUR.OpenRegistration.Reject") == "Control.LUR.OpenRegistration.Reject disabled\n")
        #expect(try await c.request("config Control.LUR.OpenRegistration ^001019") != "")
        h.world.advance(60, of: .seconds(1))
        #expect(Set(h.world.ues().map(\.imsi)) == Set(imsis.filter { $0.hasPrefix("001019") } + [imsis[2]]))
    }

    @Test func radioRestartDropsConnectionsAndComesBackOnTheSamePort() async throws {
        let h = try Harness(ues: 3)
        defer { withExtendedLifetime(h) {} }
        h.world.advance(50, of: .seconds(1))
        let port = h.server.port
        let c = try await h.client()
        let before = gprsTotals(try await c.request("gprs list")).totals
        #expect(before.count == 3)
        let truth = h.world.truth()
        try h.world.injectRadioRestart(downFor: 2)
        #expect(h.world.truth() == truth, "a restart loses no bytes of the truth")
        #expect(throws: WorldError.self) { try h.world.injectRadioRestart(downFor: 2) }
        #expect(await c.isClosed(within: .seconds(30)), "OpenBTS closes every connection")
        await #expect(throws: SystemError.self) { _ = try await CLIClient(port: port) }
        #expect(h.world.ues().isEmpty && !h.world.status().radioUp)
        h.world.advance(by: .seconds(1))
        #expect(!h.world.status().radioUp)
        h.world.advance(by: .seconds(1))
        #expect(h.world.status().radioUp)
        #expect(h.server.port == port)
        let d = try await CLIClient(port: port)
        #expect(try await d.request("uptime").contains("uptime 0 seconds"))
        h.world.advance(10, of: .seconds(1))
        let after = gprsTotals(try await d.request("gprs list"))
        #expect(after.totals.count == 3)
        for (imsi, counted) in after.totals {
            #expect(counted.down < before[imsi]!.down, "counters restart with the new attachment")
        }
        #expect(after.records.values.allSatisfy { $0 <= 2 })
        #expect(try await d.request("gprs list").contains(" MS#1,"), "MS numbering restarts")
        let grown = h.world.truth()
        for (old, new) in zip(truth, grown) { #expect(new.downBytes >= old.downBytes) }
    }

    @Test func frontEndUnplugTakesTheRadioDownUntilPlugged() async throws {
        let h = try Harness(ues: 2)
        defer { withExtendedLifetime(h) {} }
        #expect(try h.world.inject(.frontend(present: false)) == "front end unplugged; radio down\n")
        #expect(throws: WorldError.self) { try h.world.inject(.frontend(present: false)) }
        h.world.advance(10, of: .seconds(1))
        #expect(!h.world.status().radioUp && h.world.ues().isEmpty)
        await #expect(throws: SystemError.self) { _ = try await h.client() }
        _ = try h.world.inject(.frontend(present: true))
        h.world.advance(by: .seconds(2))
        #expect(!h.world.status().radioUp, "OpenBTS needs 3 s to start")
        h.world.advance(10, of: .seconds(1))
        #expect(h.world.status().radioUp && h.world.ues().count == 2)
        #expect(try await h.client().request("version").hasPrefix("release"))
    }

    @Test func cliTokenizingAndTables() throws {
        #expect(try OpenBTSCLI.tokenize("  config   A  \"b c\" d").get() == ["config", "A", "b c", "d"])
        #expect((try? OpenBTSCLI.tokenize("config \"oops").get()) == nil)
        #expect(OpenBTSFormats.prettyAge(299) == "299s" && OpenBTSFormats.prettyAge(300) == "5m" && OpenBTSFormats.prettyAge(90_000) == "25h")
        #expect(OpenBTSFormats.uptime(seconds: 150, wallSeconds: 0).contains("uptime 2.5 minutes, frame 0:32502\n"))
        #expect(OpenBTSFormats.uptime(seconds: 7190, wallSeconds: 0).contains("uptime 1.2e+02 minutes"))
        #expect(OpenBTSFormats.prettyTable([["A", "bb"], ["ccc", "_"]], tabs: false) == "A   bb \nccc    \n\n")
        #expect(OpenBTSFormats.prettyTable([["A", "bb"], ["ccc", "_"]], tabs: true) == "A\tbb\nccc\t\n\n")
    }

    @Test(arguments: [
        (".*", "001010000000001", true), ("^00101", "001010000000001", true), ("^00102", "001010000000001", false),
        ("0000001$", "001010000000001", true), ("^(001010000000001|001010000000002)$", "001010000000002", true),
        ("^(001010000000001|001010000000002)$", "0010100000000021", false), ("^0010[0-9]{11}$", "001010000000001", true),
        ("^0010[0-9]{12}$", "001010000000001", false), ("^00101[^9]", "001019000000001", false), ("1+$", "001010000000011", true),
        ("^0?01", "01010", true), ("[[:digit:]]{15}", "001010000000001", true), ("x*", "001", true), ("\\.", "001", false),
    ])
    func regexSubset(pattern: String, imsi: String, matches: Bool) throws {
        #expect(try POSIXRegex(pattern).matches(imsi) == matches)
    }

    @Test(arguments: ["^(?!(001)$)", "(abc", "abc)", "[12", "*1", "a{3,2}", "\\1", "a{300}", "[[:space]]"])
    func regexRefusals(pattern: String) {
        #expect(throws: POSIXRegex.Invalid.self) { try POSIXRegex(pattern) }
    }
}
