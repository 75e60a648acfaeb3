import Testing
import Posix
@testable import Daemon

struct ConfigTests {
    @Test func defaultsAreDocumentedAndParse() throws {
        let settings = try ConfigSchema.settings(from: [])
        #expect(settings.stateDirectory == "/var/lib/qlink")
        #expect(settings.controlSocket == "/run/qlink/qlinkd.sock")
        #expect(settings.pollInterval == .seconds(5))
        #expect(settings.counterWidth == .bits32)
        for key in ConfigSchema.keys { #expect(!key.summary.isEmpty, "\(key.qualifiedName) has no summary") }
    }

    @Test func parsesSectionsCommentsAndQuotes() throws {
        let text = """
            # comment
            [station]
            name = "  roof one "
            ; another comment

            [metering]
            poll_interval = 250ms
            [control]
            socket = /tmp/x.sock
            """
        let settings = try ConfigSchema.settings(from: INIFile.parse(text, file: "q.conf"))
        #expect(settings.stationName == "  roof one ")
        #expect(settings.pollInterval == .milliseconds(250))
        #expect(settings.controlSocket == "/tmp/x.sock")
    }

    @Test(arguments: [
        ("[wifi]\ninterfce = wlan1\n", "q.conf:2: unknown key 'interfce' in [wifi]; did you mean 'wifi.interface'?"),
        ("[wfi]\ninterface = wlan1\n", "q.conf:2: unknown section [wfi]; did you mean 'wifi.interface'?"),
        ("[wifi]\ncounter_bits = 48\n", "q.conf:2: wifi.counter_bits: expected 32 or 64, got '48'"),
        ("\n\n[paths]\nstate = relative/dir\n", "q.conf:4: paths.state: expected an absolute path, got 'relative/dir'"),
        ("[metering]\npoll_interval = fast\n", "q.conf:2: metering.poll_interval: expected a duration like 500ms, 5s, 2m or 1h, got 'fast'"),
        ("[metering]\npoll_interval = 0s\n", "q.conf:2: metering.poll_interval: '0s' is outside 0.1 seconds ... 300.0 seconds"),
        ("name = x\n", "q.conf:1: 'name' is outside any [section]"),
        ("[station\n", "q.conf:1: malformed section header '[station' (expected [name])"),
        ("[station]\njust words\n", "q.conf:2: expected 'key = value', got 'just words'"),
        ("[log]\nlevel = loud\n", "q.conf:2: log.level: expected one of critical, error, warning, notice, info, debug, got 'loud'"),
        ("[radio]\ntransmit_power = 30\n", "q.conf:2: radio.transmit_power: 30 dBm is above the BaseStation's rating of 20 dBm (100 mW)"),
        ("[board]\nfrontend = usb:5c6:9025\n", "q.conf:2: board.frontend: expected usb:VVVV:PPPP (hex vendor and product id) or an absolute path, got 'usb:5c6:9025'"),
        ("[wifi]\naccounting = localhost:1813\n", "q.conf:2: wifi.accounting: expected HOST:PORT with an IPv4 host, got 'localhost:1813'"),
    ])
    func badInputNamesFileAndLine(text: String, message: String) {
        #expect(throws: ConfigError.self) { try ConfigSchema.settings(from: INIFile.parse(text, file: "q.conf")) }
        do {
            _ = try ConfigSchema.settings(from: INIFile.parse(text, file: "q.conf"))
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func radioAndBoardKeys() throws {
        let text = "[radio]\nenabled = yes\nport = 40000\ntransmit_power = 17.5\n[board]\nfrontend = usb:05c6:9025\ngpsd =\n"
        let settings = try ConfigSchema.settings(from: INIFile.parse(text, file: "q.conf"))
        #expect(settings.radio.enabled && settings.radio.port == 40000 && settings.radio.cell.transmitPowerDBm == 17.5)
        #expect(settings.board.frontEnd == .usb(vendor: 0x05c6, product: 0x9025))
        #expect(settings.board.gpsd == nil)
    }

    @Test func dropInsOverrideInNameOrder() throws {
        let dir = try TemporaryDirectory()
        let path = "\(dir.path)/qlinkd.conf"
        try FileSystem.writeDurably(path, Array("[station]\nname = base\n[log]\nlevel = info\n".utf8))
        try FileSystem.createDirectory(path + ".d")
        try FileSystem.writeDurably(path + ".d/20-late.conf", Array("[station]\nname = late\n".utf8))
        try FileSystem.writeDurably(path + ".d/10-early.conf", Array("[station]\nname = early\n[log]\nlevel = debug\n".utf8))
        try FileSystem.writeDurably(path + ".d/30-ignored.txt", Array("garbage".utf8))
        let settings = try ConfigLoader.load(path: path)
        #expect(settings.stationName == "late")
        #expect(settings.logLevel == .debug)
    }

    @Test func errorInDropInNamesTheDropIn() throws {
        let dir = try TemporaryDirectory()
        let path = "\(dir.path)/qlinkd.conf"
        try FileSystem.writeDurably(path, Array("[station]\nname = base\n".utf8))
        try FileSystem.createDirectory(path + ".d")
        try FileSystem.writeDurably(path + ".d/50-bad.conf", Array("[station]\n\nbord = sim\n".utf8))
        #expect { try ConfigLoader.load(path: path) } throws: { error in
            "\(error)" == "\(path).d/50-bad.conf:3: unknown key 'bord' in [station]; did you mean 'station.board'?"
        }
    }

    @Test func missingFileIsNamed() {
        #expect { try ConfigLoader.load(path: "/nonexistent/qlinkd.conf") } throws: { error in
            "\(error)" == "cannot read config /nonexistent/qlinkd.conf: No such file or directory"
        }
    }

    @Test func editDistance() {
        #expect(ConfigSchema.editDistance("kitten", "sitting") == 3)
        #expect(ConfigSchema.editDistance("", "abc") == 3)
        #expect(ConfigSchema.editDistance("same", "same") == 0)
    }
}

struct ControlSocketLookupTests {
    @Test func onlyTheKeysThatDecideTheSocketAreChecked() throws {
        let dir = try TemporaryDirectory()
        let path = "\(dir.path)/qlinkd.conf"
        try FileSystem.writeDurably(path, Array("[paths]\nruntime = /srv/run\n[log]\nlevel = loud\n[nonsense]\nx = 1\n".utf8))
        #expect(try ConfigLoader.controlSocket(path: path) == "/srv/run/qlinkd.sock")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: path) }
        try FileSystem.writeDurably(path, Array("[control]\nsocket = relative\n".utf8))
        #expect(throws: ConfigError.self) { try ConfigLoader.controlSocket(path: path) }
    }
}
