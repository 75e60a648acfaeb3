import HAL

/// One datagram from hostapd's control socket: an unsolicited event or a command's reply.
///
/// Once a client is ATTACHed, events share the socket with replies and are told apart by
/// their `<N>` prefix (N is the message level, 3 = MSG_INFO, the default). An event caused
/// by a command can arrive before that command's reply.
enum HostapdDatagram: Equatable, Sendable {
    case event(level: Int, text: String)
    case reply(String)

    init(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("<"), let close = text.firstIndex(of: ">"),
           let level = Int(text[text.index(after: text.startIndex)..<close]) {
            self = .event(level: level, text: String(text[text.index(after: close)...]))
        } else {
            self = .reply(text)
        }
    }
}

/// The hostapd events this backend acts on; everything else is `.other`.
enum HostapdEvent: Equatable, Sendable {
    /// `AP-STA-CONNECTED <mac>[ keyid=..][ p2p_dev_addr=..]…`: the station is authorized.
    case stationConnected(MACAddress, keyID: String?)
    /// `AP-STA-DISCONNECTED <mac>…`: it no longer is.
    case stationDisconnected(MACAddress)
    /// `AP-ENABLED`
    case enabled
    /// `AP-DISABLED ` (hostapd 2.10 sends a trailing space)
    case disabled
    /// `CTRL-EVENT-TERMINATING ` (hostapd is exiting; the socket goes with it)
    case terminating
    case other(String)

    init(_ text: String) {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        // Events relayed through the global control interface carry the interface first.
        if words.first?.hasPrefix("IFNAME=") == true { words.removeFirst() }
        guard let name = words.first else { self = .other(text); return }
        switch name {
        case "AP-STA-CONNECTED", "AP-STA-DISCONNECTED":
            guard words.count >= 2, let mac = MACAddress(words[1]) else { self = .other(text); return }
            if name == "AP-STA-DISCONNECTED" {
                self = .stationDisconnected(mac)
            } else {
                let keyID = words.dropFirst(2).first { $0.hasPrefix("keyid=") }.map { String($0.dropFirst(6)) }
                self = .stationConnected(mac, keyID: keyID)
            }
        case "AP-ENABLED": self = .enabled
        case "AP-DISABLED": self = .disabled
        case "CTRL-EVENT-TERMINATING": self = .terminating
        default: self = .other(text)
        }
    }
}

/// What a command's reply says, for commands that answer `OK` or `FAIL`.
enum HostapdReply {
    static func isOK(_ reply: String) -> Bool { reply == "OK\n" || reply == "OK" }
    static func isFailure(_ reply: String) -> Bool { reply.hasPrefix("FAIL") }
    static func isUnknownCommand(_ reply: String) -> Bool { reply.hasPrefix("UNKNOWN COMMAND") }

    /// `key=value` lines (STATUS and the body of STA replies); later keys win.
    static func fields(_ reply: some StringProtocol) -> [String: String] {
        var result: [String: String] = [:]
        for line in reply.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }

    /// A reply shortened for an error message.
    static func quoted(_ reply: String) -> String {
        let line = reply.split(separator: "\n").first.map(String.init) ?? ""
        return "\"" + (line.count > 60 ? String(line.prefix(60)) + "…" : line) + "\""
    }
}

/// One station as a `STA`, `STA-FIRST` or `STA-NEXT` reply describes it.
struct HostapdStation: Equatable, Sendable {
    var info: StationInfo
    /// False for a leftover entry hostapd is about to remove (e.g. just after a deauth:
    /// `flags=` without `[ASSOC]` or `[AUTHORIZED]`, `timeout_next=REMOVE`).
    var isAssociated: Bool
    /// The reply had `rx_bytes` and `tx_bytes` (the driver reports counters).
    var reportsCounters: Bool
    /// The reply had `signal`.
    var reportsSignal: Bool
}

/// Parses STA replies: the MAC on the first line, then `key=value` lines.
enum HostapdStationReply {
    enum Parsed: Equatable, Sendable {
        /// `FAIL` or an empty reply: the walk is over (or the station is unknown).
        case end
        case station(HostapdStation)
    }

    /// Reads one reply. The counters are cumulative since the station associated:
    /// `rx_bytes` (what the station sent) is `up`, `tx_bytes` is `down`. Missing byte
    /// counters (e.g. `driver=wired`) give `counters == nil`.
    static func parse(_ reply: String, width: CounterWidth) throws(ParseError) -> Parsed {
        if reply.isEmpty || HostapdReply.isFailure(reply) { return .end }
        var lines = reply.split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first, let mac = MACAddress(first.trimmingSuffix(while: { $0 == " " || $0 == "\r" })) else {
            throw ParseError("a station reply must start with a MAC address, got \(HostapdReply.quoted(reply))")
        }
        lines.removeFirst()
        let fields = HostapdReply.fields(lines.joined(separator: "\n"))
        let flags = fields["flags"]
        let authorized = flags.map { $0.contains("[AUTHORIZED]") } ?? true
        let associated = flags.map { $0.contains("[ASSOC]") || $0.contains("[AUTHORIZED]") } ?? true

        var counters: TrafficCounters?
        if let up = fields["rx_bytes"].flatMap(UInt64.init), let down = fields["tx_bytes"].flatMap(UInt64.init) {
            counters = TrafficCounters(upBytes: up, downBytes: down,
                                       upPackets: fields["rx_packets"].flatMap(UInt64.init) ?? 0,
                                       downPackets: fields["tx_packets"].flatMap(UInt64.init) ?? 0,
                                       width: width)
        }
        let signal = fields["signal"].flatMap { Int($0) }
        let info = StationInfo(mac: mac, counters: counters, signalDBm: signal,
                               connectedSeconds: fields["connected_time"].flatMap(UInt64.init),
                               inactiveMilliseconds: fields["inactive_msec"].flatMap(UInt64.init),
                               keyID: fields["keyid"].flatMap { $0.isEmpty ? nil : $0 },
                               authorized: authorized)
        return .station(HostapdStation(info: info, isAssociated: associated,
                                       reportsCounters: counters != nil, reportsSignal: signal != nil))
    }

    struct ParseError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

extension Substring {
    func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[..<end]
    }
}
