import HAL
@testable import HALLinux
import Testing

@Suite("hostapd wire format")
struct HostapdProtocolTests {
    static let sta = MACAddress("02:00:00:00:0b:01")!

    /// A STA reply from hostapd 2.10 with driver=wired (trimmed): no driver fields at all.
    static let wiredReply = """
        02:00:00:00:0b:01
        flags=[AUTHORIZED]
        aid=0
        capability=0x0
        listen_interval=0
        supported_rates=
        timeout_next=NULLFUNC POLL
        dot1xPaePortNumber=0
        dot1xAuthSessionUserName=qltuser
        last_eap_type_sta=4 (MD5)

        """

    /// What the same station looks like right after DEAUTHENTICATE.
    static let leftoverReply = "02:00:00:00:0b:01\nflags=\naid=0\ncapability=0x0\nlisten_interval=0\nsupported_rates=\ntimeout_next=REMOVE\n"

    /// An nl80211-style reply: the driver reports counters and signal.
    static let radioReply = """
        02:00:00:00:0b:01
        flags=[AUTH][ASSOC][AUTHORIZED][WMM][HT]
        aid=1
        rx_packets=1200
        tx_packets=3400
        rx_bytes=53495
        tx_bytes=139441
        inactive_msec=120
        signal=-47
        rx_rate_info=650 mcs 7 shortGI
        tx_rate_info=720 mcs 7 shortGI
        connected_time=3600
        keyid=alice

        """

    @Test func datagramsStartingWithALevelAreEvents() {
        #expect(HostapdDatagram(Array("<3>AP-STA-CONNECTED 02:00:00:00:0b:01".utf8)) == .event(level: 3, text: "AP-STA-CONNECTED 02:00:00:00:0b:01"))
        #expect(HostapdDatagram(Array("<2>CTRL_IFACE DEAUTHENTICATE x".utf8)) == .event(level: 2, text: "CTRL_IFACE DEAUTHENTICATE x"))
        #expect(HostapdDatagram(Array("OK\n".utf8)) == .reply("OK\n"))
        #expect(HostapdDatagram([]) == .reply(""))
        #expect(HostapdDatagram(Array("<x>not".utf8)) == .reply("<x>not"))
    }

    @Test func stationEventsCarryTheMACAndOptionalFields() {
        #expect(HostapdEvent("AP-STA-CONNECTED 02:00:00:00:0b:01") == .stationConnected(Self.sta, keyID: nil))
        #expect(HostapdEvent("AP-STA-CONNECTED 02:00:00:00:0B:01 keyid=alice p2p_dev_addr=02:00:00:00:00:09")
                == .stationConnected(Self.sta, keyID: "alice"))
        #expect(HostapdEvent("AP-STA-DISCONNECTED 02:00:00:00:0b:01") == .stationDisconnected(Self.sta))
        #expect(HostapdEvent("IFNAME=wlan0 AP-STA-DISCONNECTED 02:00:00:00:0b:01") == .stationDisconnected(Self.sta))
        #expect(HostapdEvent("AP-STA-CONNECTED not-a-mac") == .other("AP-STA-CONNECTED not-a-mac"))
        #expect(HostapdEvent("AP-STA-CONNECTED-LIKE 02:00:00:00:0b:01") == .other("AP-STA-CONNECTED-LIKE 02:00:00:00:0b:01"))
    }

    @Test func apEventsTolerateHostapdsTrailingSpace() {
        #expect(HostapdEvent("AP-ENABLED") == .enabled)
        #expect(HostapdEvent("AP-DISABLED ") == .disabled)
        #expect(HostapdEvent("CTRL-EVENT-TERMINATING ") == .terminating)
        #expect(HostapdEvent("CTRL-EVENT-EAP-SUCCESS 02:00:00:00:0b:01") == .other("CTRL-EVENT-EAP-SUCCESS 02:00:00:00:0b:01"))
        #expect(HostapdEvent("") == .other(""))
    }

    @Test func wiredStationHasNoCounters() throws {
        guard case .station(let station) = try HostapdStationReply.parse(Self.wiredReply, width: .bits64) else {
            Issue.record("not a station"); return
        }
        #expect(station.info.mac == Self.sta)
        #expect(station.info.authorized)
        #expect(station.isAssociated)
        #expect(station.info.counters == nil)
        #expect(!station.reportsCounters && !station.reportsSignal)
        #expect(station.info.signalDBm == nil)
    }

    @Test func radioStationCountersMapRxToUp() throws {
        guard case .station(let station) = try HostapdStationReply.parse(Self.radioReply, width: .bits32) else {
            Issue.record("not a station"); return
        }
        #expect(station.info.counters == TrafficCounters(upBytes: 53495, downBytes: 139441, upPackets: 1200, downPackets: 3400, width: .bits32))
        #expect(station.info.signalDBm == -47)
        #expect(station.info.connectedSeconds == 3600)
        #expect(station.info.inactiveMilliseconds == 120)
        #expect(station.info.keyID == "alice")
        #expect(station.info.authorized && station.isAssociated)
        #expect(station.reportsCounters && station.reportsSignal)
    }

    @Test func onlyOneByteCounterIsNotCounters() throws {
        let reply = "02:00:00:00:0b:01\nflags=[AUTH][ASSOC][AUTHORIZED]\nrx_bytes=10\n"
        guard case .station(let station) = try HostapdStationReply.parse(reply, width: .bits64) else { Issue.record("not a station"); return }
        #expect(station.info.counters == nil)
    }

    @Test func leftoverAfterDeauthIsNeitherAssociatedNorAuthorized() throws {
        guard case .station(let station) = try HostapdStationReply.parse(Self.leftoverReply, width: .bits64) else {
            Issue.record("not a station"); return
        }
        #expect(!station.info.authorized)
        #expect(!station.isAssociated)
    }

    @Test func associatedButNotYetAuthorized() throws {
        let reply = "02:00:00:00:0b:01\nflags=[AUTH][ASSOC]\n"
        guard case .station(let station) = try HostapdStationReply.parse(reply, width: .bits64) else { Issue.record("not a station"); return }
        #expect(station.isAssociated && !station.info.authorized)
    }

    @Test func emptyAndFailEndTheWalk() throws {
        #expect(try HostapdStationReply.parse("", width: .bits64) == .end)
        #expect(try HostapdStationReply.parse("FAIL\n", width: .bits64) == .end)
    }

    @Test func garbageIsAProtocolError() {
        #expect(throws: HostapdStationReply.ParseError.self) { try HostapdStationReply.parse("UNKNOWN COMMAND\n", width: .bits64) }
        #expect(throws: HostapdStationReply.ParseError.self) { try HostapdStationReply.parse("PONG\n", width: .bits64) }
    }

    @Test func statusFields() {
        let status = HostapdReply.fields("state=ENABLED\nphy=\nfreq=0\nbss[0]=qap0\nbssid[0]=02:00:00:00:0a:01\nssid[0]=\n")
        #expect(status["state"] == "ENABLED")
        #expect(status["bssid[0]"] == "02:00:00:00:0a:01")
        #expect(status["ssid[0]"] == "")
        #expect(HostapdReply.isOK("OK\n") && !HostapdReply.isOK("FAIL\n"))
        #expect(HostapdReply.isFailure("FAIL\n") && HostapdReply.isUnknownCommand("UNKNOWN COMMAND\n"))
    }
}
