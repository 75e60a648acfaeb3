import HAL
@testable import HALSim
import Logging
import Posix
import Testing

/// The emulated hostapd over a real datagram socket in a temporary directory, the way
/// `hostapd_cli` and qlinkd's backend reach it.
@Suite struct HostapdServerTests {
    /// A world of three long-lived stations, its hostapd endpoint, and a bound client.
    final class Harness: Sendable {
        let directory: TemporaryDirectory
        let world: World
        let server: HostapdServer
        let client: UnixSocket
        let pskPath: String

        init(pskFile: String = "", width: CounterWidth = .bits32) throws {
            directory = try TemporaryDirectory()
            let ctrl = "\(directory.path)/hostapd"
            pskPath = "\(directory.path)/wpa_psk"
            try FileSystem.writeDurably(pskPath, Array(pskFile.utf8))
            let pskPath = pskPath
            world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(), seed: 3, speed: 1, counterWidth: width)) {
                try? PSKFile.parse(String(decoding: try FileSystem.readFile(pskPath), as: UTF8.self))
            }
            server = HostapdServer(world: world, directory: ctrl, interface: "wlan0", pskPath: pskPath,
                                   logger: Logger(label: "test", handler: InMemoryLogHandler()))
            let server = server
            world.setEventSink { server.deliver($0) }
            try server.start()
            client = try UnixSocket(.datagram)
            try client.bind("\(directory.path)/client")
            world.advance(by: .seconds(2))
        }

        deinit {
            server.stop()
            client.close()
            directory.cleanUp()
        }

        func send(_ command: String) throws {
            try client.send(Array(command.utf8), to: server.socketPath)
        }

        /// The next datagram, or a timeout error after five seconds.
        func receive() async throws -> String {
            String(decoding: try await client.receive(deadline: .now + .seconds(30)), as: UTF8.self)
        }

        /// Sends `command` and returns the reply, collecting events that arrive before it.
        func request(_ command: String) async throws -> (reply: String, events: [String]) {
            try send(command)
            var events: [String] = []
            for _ in 0..<20 {
                let datagram = try await receive()
                if datagram.hasPrefix("<") { events.append(datagram) } else { return (datagram, events) }
            }
            Issue.record("no reply to \(command) among 20 datagrams")
            return ("", events)
        }
    }

    @Test func pingAndUnknownCommands() async throws {
        let h = try Harness()
        #expect(try await h.request("PING").reply == "PONG\n")
        #expect(try await h.request("PING\n").reply == "UNKNOWN COMMAND\n", "hostapd does not trim")
        #expect(try await h.request("ALL_STA").reply == "UNKNOWN COMMAND\n")
        #expect(try await h.request("DETACH").reply == "FAIL\n", "not attached")
        #expect(try await h.request("LEVEL 2").reply == "FAIL\n")
    }

    @Test func statusReportsTheAccessPoint() async throws {
        let h = try Harness()
        let status = try await h.request("STATUS").reply
        let lines = status.split(separator: "\n")
        #expect(lines.first == "state=ENABLED")
        #expect(lines.contains("bss[0]=wlan0"))
        #expect(lines.contains("ssid[0]=Qlink-sim"))
        #expect(lines.contains("num_sta[0]=3"))
        #expect(status.hasSuffix("num_sta[0]=3\n"))
        #expect(try await h.request("DISABLE").reply == "OK\n")
        #expect(try await h.request("DISABLE").reply == "FAIL\n")
        #expect(try await h.request("STATUS").reply.hasPrefix("state=DISABLED\n"))
        #expect(try await h.request("STA-FIRST").reply == "")
        #expect(try await h.request("ENABLE").reply == "OK\n")
    }

    @Test func walkStationsWithFirstAndNext() async throws {
        let h = try Harness()
        var seen: [String] = []
        var reply = try await h.request("STA-FIRST").reply
        while !reply.isEmpty && seen.count < 50 {
            let mac = String(reply.prefix { $0 != "\n" })
            seen.append(mac)
            let fields = Dictionary(reply.split(separator: "\n").dropFirst().compactMap { line -> (String, String)? in
                guard let eq = line.firstIndex(of: "=") else { return nil }
                return (String(line[..<eq]), String(line[line.index(after: eq)...]))
            }, uniquingKeysWith: { a, _ in a })
            #expect(fields["flags"]?.contains("[AUTHORIZED]") == true)
            for key in ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "inactive_msec", "connected_time"] {
                #expect(fields[key].flatMap { UInt64($0) } != nil, "\(key) in \(reply)")
            }
            #expect(fields["signal"].flatMap { Int($0) }.map { (-90)...(-30) ~= $0 } == true)
            #expect(try await h.request("STA \(mac)").reply.hasPrefix("\(mac)\nflags=[AUTH][ASSOC][AUTHORIZED]"))
            reply = try await h.request("STA-NEXT \(mac)").reply
        }
        #expect(seen.count == 3)
        #expect(Set(seen) == Set(h.world.stations().map(\.mac.description)))
        #expect(try await h.request("STA 02:00:00:00:00:99").reply == "FAIL\n")
        #expect(try await h.request("STA-NEXT 02:00:00:00:00:99").reply == "FAIL\n")
        #expect(try await h.request("STA nonsense").reply == "FAIL\n")
    }

    @Test func countersAreTheWorldsUploadAndDownload() async throws {
        let h = try Harness()
        h.world.pause()
        let station = try #require(h.world.stations().first)
        let reply = try await h.request("STA \(station.mac)").reply
        #expect(reply.contains("\nrx_bytes=\(station.exactUpBytes)\n"), "rx = from the station = upload")
        #expect(reply.contains("\ntx_bytes=\(station.exactDownBytes)\n"))
    }

    @Test func attachThenDeauthenticateGivesTheEvent() async throws {
        let h = try Harness()
        #expect(try await h.request("ATTACH").reply == "OK\n")
        let mac = try #require(h.world.stations().first?.mac)
        let (reply, events) = try await h.request("DEAUTHENTICATE \(mac)")
        #expect(reply == "OK\n")
        #expect(events == ["<3>AP-STA-DISCONNECTED \(mac)"], "sent before the OK, as hostapd does")
        let entry = try await h.request("STA \(mac)").reply
        #expect(entry.hasPrefix("\(mac)\nflags=\n"))
        #expect(entry.contains("timeout_next=REMOVE\n") && !entry.contains("rx_bytes"))
        #expect(try await h.request("DEAUTHENTICATE bogus").reply == "FAIL\n")

        #expect(try await h.request("LEVEL 2").reply == "OK\n")
        let other = try #require(h.world.stations().first { $0.associated }?.mac)
        let debug = try await h.request("DEAUTHENTICATE \(other)").events
        #expect(debug == ["<2>CTRL_IFACE DEAUTHENTICATE \(other)", "<3>AP-STA-DISCONNECTED \(other)"])
        #expect(try await h.request("DETACH").reply == "OK\n")
        let third = try #require(h.world.stations().first { $0.associated }?.mac)
        #expect(try await h.request("DEAUTHENTICATE \(third)").events.isEmpty)
    }

    @Test func reloadWPAPSKKicksARevokedStation() async throws {
        let mac = subscriberMACs(seed: 3, subscribers: 3)[1]
        let h = try Harness(pskFile: "keyid=bob \(mac) bobs-passphrase\n")
        #expect(try await h.request("STA \(mac)").reply.hasSuffix("keyid=bob\n"))
        #expect(try await h.request("ATTACH").reply == "OK\n")
        #expect(try await h.request("RELOAD_WPA_PSK").events.isEmpty, "nothing changed")

        try FileSystem.writeDurably(h.pskPath, Array("# bob revoked\n".utf8))
        let (reply, events) = try await h.request("RELOAD_WPA_PSK")
        #expect(reply == "OK\n")
        #expect(events == ["<3>AP-STA-DISCONNECTED \(mac)"])
        h.world.advance(120, of: .seconds(1))
        #expect(try await h.request("STA \(mac)").reply == "FAIL\n", "stays away while its entry is gone")

        try FileSystem.writeDurably(h.pskPath, Array("02:00:00:00:00:01 short\n".utf8))
        #expect(try await h.request("RELOAD_WPA_PSK").reply == "FAIL\n")
    }

    @Test func hostapdRestartRemovesAndRestoresTheSocket() async throws {
        let h = try Harness()
        #expect(try await h.request("ATTACH").reply == "OK\n")
        try h.world.injectHostapdRestart(downFor: 2)
        var events: [String] = []
        for _ in 0..<10 {
            let event = try await h.receive()
            events.append(event)
            if event.hasPrefix("<3>CTRL-EVENT-TERMINATING") { break }
        }
        #expect(events.filter { $0.hasPrefix("<3>AP-STA-DISCONNECTED ") }.count == 3)
        #expect(events.suffix(2) == ["<3>AP-DISABLED ", "<3>CTRL-EVENT-TERMINATING "])
        #expect(!FileSystem.exists(h.server.socketPath))
        #expect(throws: SystemError.self) { try h.send("PING") }
        h.world.advance(by: .seconds(3))
        #expect(FileSystem.exists(h.server.socketPath))
        #expect(try await h.request("PING").reply == "PONG\n")
        #expect(try await h.request("DETACH").reply == "FAIL\n", "a new hostapd knows no monitors")
        h.world.advance(10, of: .seconds(1))
        let reply = try await h.request("STA-FIRST").reply
        #expect(reply.contains("connected_time="))
    }
}

@Suite struct PSKTests {
    @Test func parsesHostapdFormat() throws {
        let hex = String(repeating: "ab", count: 32)
        let entries = try PSKFile.parse("""
            # comment
            02:00:00:00:00:01 passphrase-one

            keyid=alice vlanid=3 02:00:00:00:00:02 pass with spaces
            keyid=bob 00:00:00:00:00:00 \(hex)
            """)
        #expect(entries == [
            PSKEntry(mac: MACAddress("02:00:00:00:00:01")!, key: "passphrase-one"),
            PSKEntry(keyID: "alice", vlanID: 3, mac: MACAddress("02:00:00:00:00:02")!, key: "pass with spaces"),
            PSKEntry(keyID: "bob", mac: MACAddress("00:00:00:00:00:00")!, key: hex),
        ])
        #expect(entries[2].isWildcard)
    }

    @Test(arguments: [
        ("02:00:00:00:00:01 short", 1),
        ("nonsense", 1),
        ("\n02:00:00:00:00:01\n", 2),
        ("02:00:00:00:00:01 " + String(repeating: "x", count: 64), 1),
        ("keyid=" + String(repeating: "k", count: 33) + " 02:00:00:00:00:01 longenough", 1),
    ])
    func rejectsWhatHostapdRejects(text: String, line: Int) {
        #expect { try PSKFile.parse(text) } throws: { ($0 as? PSKFileError)?.line == line }
    }

    /// A world whose first subscriber starts with its own entry in the PSK file.
    static func world(entry: PSKEntry) -> (World, MACAddress, EventRecorder) {
        let world = World(configuration: WorldConfiguration(scenario: .everyoneOnline(reconnect: 10), seed: 3, speed: 1)) { [entry] }
        let recorder = EventRecorder()
        world.setEventSink(recorder.record)
        return (world, entry.mac, recorder)
    }

    @Test func perStationKeyIsReportedAndRevocationKeepsTheStationAway() throws {
        let mac = subscriberMACs(seed: 3, subscribers: 3)[0]
        let entry = PSKEntry(keyID: "alice", mac: mac, key: "alice-secret")
        let (world, _, recorder) = Self.world(entry: entry)
        world.advance(by: .seconds(1))
        #expect(world.stations().first { $0.mac == mac }?.keyID == "alice")
        #expect(world.stations().filter { $0.mac != mac }.allSatisfy { $0.keyID == nil })

        world.reloadPSK([])
        #expect(recorder.messages == ["AP-STA-DISCONNECTED \(mac)"])
        #expect(world.stations().first { $0.mac == mac }?.associated == false, "hostapd keeps the entry for a moment")
        world.advance(120, of: .seconds(1))
        #expect(!world.stations().contains { $0.mac == mac }, "revoked: stays away")
        #expect(world.stations().count == 2)

        recorder.clear()
        world.reloadPSK([PSKEntry(keyID: "alice2", mac: mac, key: "new-secret")])
        world.advance(30, of: .seconds(1))
        #expect(recorder.messages == ["AP-STA-CONNECTED \(mac) keyid=alice2"], "a new entry provisions the device")
    }

    @Test func changedKeyKicksUntilTheOldOneIsBack() throws {
        let mac = subscriberMACs(seed: 3, subscribers: 3)[0]
        let entry = PSKEntry(keyID: "alice", mac: mac, key: "alice-secret")
        let (world, _, recorder) = Self.world(entry: entry)
        world.advance(by: .seconds(1))
        world.reloadPSK([entry])
        #expect(recorder.messages.isEmpty, "an unchanged entry changes nothing")
        world.reloadPSK([PSKEntry(keyID: "alice", mac: mac, key: "rotated-secret")])
        #expect(recorder.messages == ["AP-STA-DISCONNECTED \(mac)"])
        world.advance(60, of: .seconds(1))
        #expect(world.stations().first { $0.mac == mac } == nil)
        world.reloadPSK([entry])
        world.advance(30, of: .seconds(1))
        #expect(world.stations().first { $0.mac == mac }?.associated == true)
    }
}
