import HAL

/// The text of hostapd 2.10's control-interface replies, field for field, for an AP on
/// 2.4 GHz channel 6 (802.11g, WPA2-PSK/CCMP, nl80211 driver).
///
/// Written from hostapd's own format strings (src/ap/ctrl_iface_ap.c, sta_info.c, wpa_auth.c)
/// and transcripts of a real hostapd 2.10; never from a client's parser.
public enum HostapdReplies {
    /// What an AP reports about itself in STATUS.
    public struct AccessPoint: Sendable {
        public var enabled: Bool
        public var interface: String
        public var bssid: MACAddress
        public var ssid: String
        /// Station entries (hostapd counts lingering ones too).
        public var stationCount: Int

        public init(enabled: Bool, interface: String, bssid: MACAddress, ssid: String, stationCount: Int) {
            self.enabled = enabled
            self.interface = interface
            self.bssid = bssid
            self.ssid = ssid
            self.stationCount = stationCount
        }
    }

    /// `STATUS`.
    public static func status(_ ap: AccessPoint) -> String {
        """
        state=\(ap.enabled ? "ENABLED" : "DISABLED")
        phy=phy0
        freq=2437
        num_sta_non_erp=0
        num_sta_no_short_slot_time=0
        num_sta_no_short_preamble=0
        olbc=0
        num_sta_ht_no_gf=0
        num_sta_no_ht=0
        num_sta_ht_20_mhz=0
        num_sta_ht40_intolerant=0
        olbc_ht=0
        ht_op_mode=0x0
        cac_time_seconds=0
        cac_time_left_seconds=N/A
        channel=6
        edmg_enable=0
        edmg_channel=0
        secondary_channel=0
        ieee80211n=0
        ieee80211ac=0
        ieee80211ax=0
        beacon_int=100
        dtim_period=2
        supported_rates=02 04 0b 16 0c 12 18 24 30 48 60 6c
        max_txpower=20
        bss[0]=\(ap.interface)
        bssid[0]=\(ap.bssid)
        ssid[0]=\(ap.ssid)
        num_sta[0]=\(ap.stationCount)

        """
    }

    /// The reply to `STA <mac>`, `STA-FIRST` and `STA-NEXT` for one entry.
    ///
    /// An associated station shows hostapd's WPA MIB, the driver's counters and
    /// `connected_time`; an entry hostapd keeps after it deauthenticated the station shows
    /// no flags, `timeout_next=REMOVE` and nothing from the driver (it is gone there).
    public static func station(_ s: StationSnapshot) -> String {
        guard s.associated else {
            return "\(s.mac)\nflags=\naid=\(s.aid)\ncapability=0x431\nlisten_interval=5\n"
                + "supported_rates=82 84 8b 96 0c 12 18 24 30 48 60 6c\ntimeout_next=REMOVE\n"
        }
        var text = """
        \(s.mac)
        flags=[AUTH][ASSOC][AUTHORIZED][WMM]
        aid=\(s.aid)
        capability=0x431
        listen_interval=5
        supported_rates=82 84 8b 96 0c 12 18 24 30 48 60 6c
        timeout_next=NULLFUNC POLL
        dot11RSNAStatsSTAAddress=\(s.mac)
        dot11RSNAStatsVersion=1
        dot11RSNAStatsSelectedPairwiseCipher=00-0f-ac-4
        dot11RSNAStatsTKIPLocalMICFailures=0
        dot11RSNAStatsTKIPRemoteMICFailures=0
        wpa=2
        AKMSuiteSelector=00-0f-ac-2
        hostapdWPAPTKState=11
        hostapdWPAPTKGroupState=0
        rx_packets=\(s.rxPackets)
        tx_packets=\(s.txPackets)
        rx_bytes=\(s.rxBytes)
        tx_bytes=\(s.txBytes)
        inactive_msec=\(s.inactiveMilliseconds)
        signal=\(s.signalDBm)
        rx_rate_info=540
        tx_rate_info=540
        connected_time=\(s.connectedSeconds)

        """
        if let keyID = s.keyID { text += "keyid=\(keyID)\n" }
        return text
    }
}

/// One line of hostapd's `wpa_psk_file`: `[keyid=ID] [vlanid=N] MAC PASSPHRASE_OR_64HEX`.
public struct PSKEntry: Sendable, Equatable {
    public var keyID: String?
    public var vlanID: Int?
    /// `00:00:00:00:00:00` means any station.
    public var mac: MACAddress
    /// The passphrase (8..63 characters) or the 64-hex-digit PSK, as written.
    public var key: String

    public init(keyID: String? = nil, vlanID: Int? = nil, mac: MACAddress, key: String) {
        self.keyID = keyID
        self.vlanID = vlanID
        self.mac = mac
        self.key = key
    }

    public var isWildcard: Bool { mac.bytes.allSatisfy { $0 == 0 } }
}

/// A `wpa_psk_file` that hostapd would refuse; hostapd then fails the whole (re)load.
public struct PSKFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// hostapd 2.10's reading of `wpa_psk_file`, rule for rule: `#` starts a comment only in
/// the first column, an empty line is skipped, `name=value` tokens come before the MAC,
/// one space separates the MAC from the key, and the key is the rest of the line.
public enum PSKFile {
    static let maximumKeyIDLength = 32

    public static func parse(_ text: String) throws(PSKFileError) -> [PSKEntry] {
        var entries: [PSKEntry] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            entries.append(try parseLine(line, number: index + 1))
        }
        return entries
    }

    private static func parseLine(_ line: Substring, number: Int) throws(PSKFileError) -> PSKEntry {
        var rest = line
        var keyID: String?
        var vlanID: Int?
        // Tokens are `name=value` words; the first word without '=' before a space is the MAC.
        while let space = rest.firstIndex(of: " "), let equals = rest[..<space].firstIndex(of: "=") {
            let name = rest[..<equals]
            let value = rest[rest.index(after: equals)..<space]
            switch name {
            case "keyid":
                guard value.utf8.count <= maximumKeyIDLength else { throw PSKFileError(line: number, message: "PSK keyid too long") }
                keyID = String(value)
            case "vlanid":
                guard let id = Int(value), id >= 0 else { throw PSKFileError(line: number, message: "Invalid VLAN ID '\(value)'") }
                vlanID = id
            case "wps":
                break
            default:
                throw PSKFileError(line: number, message: "Unrecognized '\(name)=\(value)'")
            }
            rest = rest[rest.index(after: space)...]
        }
        guard rest.count >= 17, let mac = MACAddress(rest.prefix(17)) else {
            throw PSKFileError(line: number, message: "Invalid MAC address '\(rest)'")
        }
        let afterMAC = rest.dropFirst(17)
        guard afterMAC.first == " " else { throw PSKFileError(line: number, message: "No PSK") }
        let key = afterMAC.dropFirst()
        let isHexPSK = key.utf8.count == 64 && key.allSatisfy(\.isHexDigit)
        guard isHexPSK || (8..<64).contains(key.utf8.count) else {
            throw PSKFileError(line: number, message: "Invalid PSK '\(key)'")
        }
        return PSKEntry(keyID: keyID, vlanID: vlanID, mac: mac, key: String(key))
    }
}
