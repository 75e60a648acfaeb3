import HAL
@testable import HALSim
import Logging
import Posix
import Testing

@Suite struct ControlTests {
    @Test func truthJSONFormat() {
        let entries = [
            TruthEntry(id: .mac(MACAddress("02:00:00:00:00:01")!), upBytes: 10, downBytes: 2_000),
            TruthEntry(id: .mac(MACAddress("02:aa:00:00:00:02")!), upBytes: 0, downBytes: 4_294_967_296),
        ]
        #expect(TruthFormat.json(entries) == """
            [
            {"id":"mac:02:00:00:00:00:01","kind":"wifi","up_bytes":10,"down_bytes":2000},
            {"id":"mac:02:aa:00:00:00:02","kind":"wifi","up_bytes":0,"down_bytes":4294967296}
            ]

            """)
        #expect(TruthFormat.json([]) == "[]\n")
        let table = TruthFormat.table(entries)
        #expect(table.hasPrefix("SUBSCRIBER"))
        #expect(table.contains("total (2)"))
        #expect(jsonString("a\"b\\c\n\u{1}") == #""a\"b\\c\n\u0001""#)
    }

    @Test func ctlRoundTripOverTheControlSocket() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(), seed: 3, speed: 1))
        world.advance(by: .seconds(5))
        let server = try ControlServer(world: world, path: "\(directory.path)/hal-sim.sock",
                                       logger: Logger(label: "test", handler: InMemoryLogHandler())) { [("seed", "3")] }
        server.start()
        defer { server.stop() }

        let json = try await ControlClient.request(["truth", "--json"], root: directory.path)
        let lines = json.split(separator: "\n")
        #expect(lines.first == "[" && lines.last == "]")
        #expect(lines.count == 5)
        for (line, entry) in zip(lines.dropFirst().dropLast(), world.truth()) {
            let expected = "{\"id\":\"\(entry.id)\",\"kind\":\"wifi\",\"up_bytes\":\(entry.upBytes),\"down_bytes\":\(entry.downBytes)}"
            #expect(line.hasPrefix(expected), "\(line)")
        }
        let status = try await ControlClient.request(["status"], root: directory.path)
        #expect(status.hasPrefix("{\"sim_seconds\":5,") && status.contains("\"connected\":3") && status.contains("\"seed\":3"))

        #expect(try await ControlClient.request(["inject", "pause"], root: directory.path) == "paused\n")
        #expect(world.status().paused)
        await #expect(throws: ControlClient.Failure.self) {
            try await ControlClient.request(["inject", "counter-reset", "mac:02:00:00:00:00:99"], root: directory.path)
        }
        await #expect(throws: ControlClient.Failure.self) {
            try await ControlClient.request(["inject", "wrap32", "nonsense"], root: directory.path)
        }
        #expect(try await ControlClient.request(["inject", "counter-reset"], root: directory.path) == "counter-reset: 3 stations\n")
        #expect(try await ControlClient.request(["inject", "wrap32", "all", "5"], root: directory.path) == "wrap32: 3 stations, burst over 5s\n")
        #expect(try await ControlClient.request(["inject", "wrap32"], root: directory.path) == "wrap32: 0 stations, burst over 12s\n")
        for bad in [["wrap32", "all", "0"], ["wrap32", "all", "5", "6"], ["wrap32", "-3"], ["counter-reset", "all", "5"]] {
            await #expect(throws: ControlClient.Failure.self) {
                try await ControlClient.request(["inject"] + bad, root: directory.path)
            }
        }
    }

    @Test func ctlWithoutASimulatorSaysSo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            _ = try await ControlClient.request(["status"], root: directory.path)
            Issue.record("expected a failure")
        } catch {
            guard case .notRunning = error else { Issue.record("wrong failure \(error)"); return }
        }
        #expect(await HALSimCommand.control(["--root", directory.path, "status"], workingDirectory: "/") == 69)
        #expect(await HALSimCommand.control(["--root", directory.path, "dance"], workingDirectory: "/") == 1)
    }

    @Test func commandLines() throws {
        let o = try SimulatorOptions.parse(["--root", "sim/./a/../b/", "--scenario", "churn", "--seed", "42", "--speed", "60",
                                            "--subscribers", "8", "--ues", "0", "--counter-bits", "64"], workingDirectory: "/home/x")
        #expect(o.root == "/home/x/sim/b" && o.ues == 0)
        #expect(throws: UsageError.self) { try SimulatorOptions.parse(["--root", "/r", "--ues", "-2"], workingDirectory: "/") }
        #expect(o.scenario == "churn" && o.seed == 42 && o.speed == 60 && o.subscribers == 8 && o.counterWidth == .bits64)
        let d = try SimulatorOptions.parse(["--root", "/r"], workingDirectory: "/")
        #expect(d.scenario == "busy-day" && d.seed == 1 && d.speed == 1 && d.subscribers == nil && d.counterWidth == .bits32)
        #expect(throws: UsageError.self) { try SimulatorOptions.parse(["--seed", "1"], workingDirectory: "/") }
        #expect(throws: UsageError.self) { try SimulatorOptions.parse(["--root", "/r", "--counter-bits", "16"], workingDirectory: "/") }
        #expect(throws: UsageError.self) { try SimulatorOptions.parse(["--root", "/r", "--speed"], workingDirectory: "/") }
        #expect(throws: UsageError.self) { try SimulatorOptions(root: "/r").with(scenario: "/no/such/file.conf").loadScenario() }
        let ctl = try ControlOptions.parse(["--root", "r", "inject", "wrap32", "mac:02:00:00:00:00:01"], workingDirectory: "/w")
        #expect(ctl.root == "/w/r" && ctl.words == ["inject", "wrap32", "mac:02:00:00:00:00:01"])
        let timed = try ControlOptions.parse(["--root", "r", "inject", "wrap32", "mac:02:00:00:00:00:01", "5"], workingDirectory: "/w")
        #expect(timed.words == ["inject", "wrap32", "mac:02:00:00:00:00:01", "5"])
        #expect(throws: UsageError.self) { try ControlOptions.parse(["truth"], workingDirectory: "/") }
        #expect(throws: UsageError.self) { try ControlOptions.parse(["--root", "/r", "truth", "--yaml"], workingDirectory: "/") }
    }

    @Test func qlinkdConfigurationIsExact() {
        #expect(Simulator.qlinkdConfiguration(root: "/tmp/r", counterWidth: .bits64, openBTSPort: 41234, gpsdPort: 42345) == """
            # Written by hal-sim for the simulated board at /tmp/r.
            [station]
            name = sim-bs1
            board = sim

            [paths]
            state = /tmp/r/state
            runtime = /tmp/r/run

            [wifi]
            ctrl_interface = /tmp/r/hostapd
            interface = wlan0
            psk_file = /tmp/r/hostapd/wpa_psk
            counter_bits = 64

            [metering]
            poll_interval = 1s

            [radio]
            enabled = yes
            backend = openbts
            host = 127.0.0.1
            port = 41234
            band = 900
            channel = 51
            mcc = 001
            mnc = 01
            lac = 1000
            cell_id = 10
            transmit_power = 20
            max_output_power = 20
            capacity = 10

            [board]
            watchdog = /tmp/r/dev/watchdog
            thermal_root = /tmp/r/sys/class/thermal
            frontend = /tmp/r/frontend/present
            gpsd = 127.0.0.1:42345

            """)
    }

    @Test func truthListsUEsAsLTEAndStatusShowsTheBoard() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(subscribers: 2, ues: 2), seed: 4, speed: 1))
        world.advance(by: .seconds(5))
        let server = try ControlServer(world: world, path: "\(directory.path)/hal-sim.sock",
                                       logger: Logger(label: "test", handler: InMemoryLogHandler())) { [("openbts_port", "4242")] }
        server.start()
        defer { server.stop() }
        let lines = try await ControlClient.request(["truth", "--json"], root: directory.path).split(separator: "\n")
        #expect(lines.count == 6)
        let lte = lines.filter { $0.contains(#""kind":"lte""#) }
        #expect(lte.count == 2)
        for line in lte { #expect(line.hasPrefix(#"{"id":"imsi:00101"#) && line.count > 60, "\(line)") }
        #expect(lines.filter { $0.contains(#""kind":"wifi""#) }.count == 2)
        #expect(try await ControlClient.request(["truth"], root: directory.path).contains("lte"))
        let status = try await ControlClient.request(["status"], root: directory.path)
        for field in [#""ues":2,"ues_attached":2,"ue_rejections":0,"radio":"up","#, #""watchdog":{"keepalives":0,"last_ms_ago":null,"missed":0,"#,
                      #""frontend":"present","gps":"fix","#, #""openbts_port":4242"#] {
            #expect(status.contains(field), "\(status)")
        }
        #expect(try await ControlClient.request(["inject", "radio-restart", "1"], root: directory.path) == "radio terminated; back in 1s\n")
        await #expect(throws: ControlClient.Failure.self) { try await ControlClient.request(["inject", "radio-restart"], root: directory.path) }
        #expect(try await ControlClient.request(["inject", "thermal-spike"], root: directory.path) == "thermal spike for 30s\n")
        #expect(try await ControlClient.request(["inject", "gps-lost"], root: directory.path) == "gps fix lost\n")
        #expect(try await ControlClient.request(["inject", "frontend-unplug"], root: directory.path) == "front end unplugged; radio down\n")
        for bad in [["radio-restart", "-1"], ["thermal-spike", "0"], ["gps-fix", "now"], ["frontend-plug", "x"]] {
            await #expect(throws: ControlClient.Failure.self) { try await ControlClient.request(["inject"] + bad, root: directory.path) }
        }
        let after = try await ControlClient.request(["status"], root: directory.path)
        #expect(after.contains(#""ues_attached":0"#) && after.contains(#""radio":"down""#) && after.contains(#""frontend":"absent","gps":"lost""#))
    }
}

extension SimulatorOptions {
    func with(scenario: String) -> SimulatorOptions {
        var copy = self
        copy.scenario = scenario
        return copy
    }
}
