import Crypto
import HAL
import Logging
import Posix
import Synchronization

/// What the emulated hostapd says about itself in accounting requests (its `hostapd.conf`).
public struct AccountingNAS: Sendable, Equatable {
    /// NAS-IP-Address: hostapd's `own_ip_addr` (default 127.0.0.1).
    public var ipAddress: [UInt8]
    /// NAS-Identifier: hostapd's `nas_identifier`.
    public var identifier: String
    /// Called-Station-Id is `BSSID:SSID` (`02-51-00-00-00-01:Qlink-sim`).
    public var bssid: MACAddress
    public var ssid: String

    public init(ipAddress: [UInt8] = [127, 0, 0, 1], identifier: String, bssid: MACAddress, ssid: String) {
        self.ipAddress = ipAddress
        self.identifier = identifier
        self.bssid = bssid
        self.ssid = ssid
    }
}

/// RADIUS accounting packets (RFC 2865 §3/§5, RFC 2866) with the attributes hostapd 2.10
/// puts in them, in its order (`accounting_msg`, `add_common_radius_attr`,
/// `add_common_radius_sta_attr`, `accounting_sta_report`, `accounting_report_state`), for a
/// WPA2-PSK/CCMP AP on 802.11g without 802.1X. Written from RFC 2866 and hostapd's sources;
/// shares nothing with qlinkd's parser.
enum RADIUSAccounting {
    static let accountingRequest: UInt8 = 4
    static let accountingResponse: UInt8 = 5

    /// Attribute types (RFC 2865, 2866, 2869, 7268).
    enum Attribute: UInt8 {
        case userName = 1, nasIPAddress = 4, nasPort = 5, serviceType = 6, calledStationID = 30, callingStationID = 31,
             nasIdentifier = 32, statusType = 40, delayTime = 41, inputOctets = 42, outputOctets = 43, sessionID = 44,
             authentic = 45, sessionTime = 46, inputPackets = 47, outputPackets = 48, terminateCause = 49,
             inputGigawords = 52, outputGigawords = 53, eventTimestamp = 55, nasPortType = 61, connectInfo = 77,
             wlanPairwiseCipher = 186, wlanGroupCipher = 187, wlanAKMSuite = 188
    }

    struct Field: Sendable, Equatable {
        var type: UInt8
        var value: [UInt8]

        init(_ attribute: Attribute, _ value: [UInt8]) {
            type = attribute.rawValue
            self.value = value
        }

        init(_ attribute: Attribute, _ text: String) { self.init(attribute, Array(text.utf8)) }
        init(_ attribute: Attribute, integer: UInt32) { self.init(attribute, bigEndian(integer)) }
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// hostapd's RADIUS_802_1X_ADDR_FORMAT: `02-00-00-00-00-0A`.
    static func dashed(_ mac: MACAddress) -> String {
        mac.bytes.map { hex($0, uppercase: true) }.joined(separator: "-")
    }

    /// hostapd's RADIUS_ADDR_FORMAT (User-Name when there is no 802.1X identity): `02000000000a`.
    static func compact(_ mac: MACAddress) -> String {
        mac.bytes.map { hex($0, uppercase: false) }.joined()
    }

    /// `%016llX`.
    static func sessionID(_ id: UInt64) -> String {
        let digits = String(id, radix: 16, uppercase: true)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private static func hex(_ byte: UInt8, uppercase: Bool) -> String {
        let digits = String(byte, radix: 16, uppercase: uppercase)
        return byte < 16 ? "0" + digits : digits
    }

    /// The attributes of `event`'s request, first transmission (Acct-Delay-Time 0).
    static func fields(for event: AccountingEvent, nas: AccountingNAS, eventTimestamp: UInt32) -> [Field] {
        var fields = [Field(.statusType, integer: event.status.rawValue)]
        if let station = event.station {
            fields.append(Field(.authentic, integer: 2))   // Local: WPA-PSK, no 802.1X
            fields.append(Field(.userName, compact(station.mac)))
        }
        fields.append(Field(.nasIPAddress, nas.ipAddress))
        fields.append(Field(.nasIdentifier, nas.identifier))
        fields.append(Field(.calledStationID, dashed(nas.bssid) + ":" + nas.ssid))
        fields.append(Field(.nasPortType, integer: 19))    // Wireless - IEEE 802.11
        if let station = event.station {
            fields.append(Field(.serviceType, integer: 2))  // Framed
            if station.aid > 0 { fields.append(Field(.nasPort, integer: UInt32(station.aid))) }
            fields.append(Field(.callingStationID, dashed(station.mac)))
            fields.append(Field(.connectInfo, "CONNECT 54Mbps 802.11g"))
            fields.append(Field(.sessionID, sessionID(event.sessionID)))
            fields.append(Field(.wlanPairwiseCipher, integer: 0x000F_AC04))  // CCMP
            fields.append(Field(.wlanGroupCipher, integer: 0x000F_AC04))
            fields.append(Field(.wlanAKMSuite, integer: 0x000F_AC02))        // PSK
        }
        fields.append(Field(.eventTimestamp, integer: eventTimestamp))
        fields.append(Field(.delayTime, integer: 0))
        if let final = event.final {
            fields.append(Field(.sessionTime, integer: UInt32(truncatingIfNeeded: final.sessionSeconds)))
            fields.append(Field(.inputPackets, integer: final.upPackets))
            fields.append(Field(.outputPackets, integer: final.downPackets))
            fields.append(Field(.inputOctets, integer: UInt32(truncatingIfNeeded: final.upBytes)))
            fields.append(Field(.inputGigawords, integer: UInt32(truncatingIfNeeded: final.upBytes >> 32)))
            fields.append(Field(.outputOctets, integer: UInt32(truncatingIfNeeded: final.downBytes)))
            fields.append(Field(.outputGigawords, integer: UInt32(truncatingIfNeeded: final.downBytes >> 32)))
        }
        if event.status == .stop, let cause = event.terminateCause {
            fields.append(Field(.terminateCause, integer: cause.rawValue))
        }
        if event.station == nil {
            fields.append(Field(.sessionID, sessionID(event.sessionID)))
        }
        return fields
    }

    /// An Accounting-Request: Request Authenticator =
    /// MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret) (RFC 2866 §3).
    static func request(identifier: UInt8, fields: [Field], secret: [UInt8]) -> [UInt8] {
        let body = fields.flatMap { [$0.type, UInt8($0.value.count + 2)] + $0.value }
        let length = 20 + body.count
        let header: [UInt8] = [accountingRequest, identifier, UInt8(length >> 8), UInt8(length & 0xFF)]
        return header + Hash.radiusMD5(header + [UInt8](repeating: 0, count: 16) + body + secret) + body
    }

    /// Whether `response` is a well-formed Accounting-Response to the request with
    /// `requestAuthenticator`: Response Authenticator =
    /// MD5(Code + Identifier + Length + Request Authenticator + Attributes + Secret).
    static func isValidResponse(_ response: [UInt8], requestAuthenticator: [UInt8], secret: [UInt8]) -> Bool {
        guard response.count >= 20, response[0] == accountingResponse else { return false }
        let length = Int(response[2]) << 8 | Int(response[3])
        guard (20...4096).contains(length), length <= response.count else { return false }
        let packet = Array(response[..<length])
        let expected = Hash.radiusMD5(Array(packet[..<4]) + requestAuthenticator + Array(packet[20...]) + secret)
        return expected == Array(packet[4..<20])
    }
}

/// hostapd's RADIUS accounting client: sends each `AccountingEvent` as an Accounting-Request
/// to the accounting server (qlinkd), from its own UDP socket on 127.0.0.1, and retransmits a
/// request that got no valid Accounting-Response every `retransmitInterval` (3 real seconds),
/// at most `maximumRetransmissions` (3) times, then gives up on it.
///
/// As hostapd does, a retransmission gets a new Identifier and an updated Acct-Delay-Time
/// (whole seconds since the first transmission), and so a new Request Authenticator; a
/// response must come from the server, carry the Identifier of the latest transmission and
/// the right Response Authenticator, or it is dropped (and the request stays pending).
public final class RADIUSAccountingClient: Sendable {
    /// What `hal-sim ctl status` shows as `accounting`.
    public struct Statistics: Sendable, Equatable {
        /// Requests (each counted once, however often it was transmitted).
        public var sent = 0
        /// Requests that got a valid Accounting-Response.
        public var answered = 0
        /// Retransmissions.
        public var retransmitted = 0
        /// Requests given up after the last retransmission went unanswered.
        public var unanswered = 0
        /// Responses dropped: wrong authenticator, unknown identifier, malformed, or from
        /// elsewhere.
        public var dropped = 0

        /// Requests still waiting for an answer.
        public var pending: Int { sent - answered - unanswered }

        public init() {}
    }

    struct Request: Sendable {
        var identifier: UInt8
        var fields: [RADIUSAccounting.Field]
        var packet: [UInt8]
        let firstTry: ContinuousClock.Instant
        var nextTry: ContinuousClock.Instant
        var retransmissions = 0
        /// For the log: `Stop 02:…` or `Accounting-On`.
        let summary: String

        var authenticator: [UInt8] { Array(packet[4..<20]) }
    }

    struct State: Sendable {
        var nextIdentifier: UInt8
        var pending: [Request] = []
        var statistics = Statistics()
        var stopped = false
    }

    public let server: IPv4Endpoint
    public let nas: AccountingNAS
    public let retransmitInterval: Duration
    public let maximumRetransmissions: Int
    private let secret: [UInt8]
    private let socket: UDPSocket
    private let logger: Logger
    private let state: Mutex<State>

    /// Binds the client's socket on 127.0.0.1 (a free port) at once.
    public init(server: IPv4Endpoint, secret: String, nas: AccountingNAS, retransmitInterval: Duration = .seconds(3),
                maximumRetransmissions: Int = 3, logger: Logger) throws(SystemError) {
        self.server = server
        self.secret = Array(secret.utf8)
        self.nas = nas
        self.retransmitInterval = retransmitInterval
        self.maximumRetransmissions = maximumRetransmissions
        self.logger = logger
        socket = try UDPSocket(bindingTo: IPv4Endpoint(host: "127.0.0.1", port: 0))
        state = Mutex(State(nextIdentifier: UInt8.random(in: 0...255)))
    }

    /// The client's own port (the source of every request).
    public var localPort: UInt16 { socket.localPort ?? 0 }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Starts reading responses and retransmitting.
    public func start() {
        Task { await self.receiveResponses() }
        Task { await self.retransmitDue() }
    }

    /// Closes the socket; pending requests are dropped (hostapd's would die with it).
    public func stop() {
        let first = state.withLock { s -> Bool in
            defer { s.stopped = true }
            return !s.stopped
        }
        if first { socket.close() }
    }

    /// The world's accounting sink: sends each event as a new request.
    public func deliver(_ events: [AccountingEvent]) {
        let timestamp = UInt32(truncatingIfNeeded: SystemClock.wallMilliseconds() / 1000)
        for event in events {
            let fields = RADIUSAccounting.fields(for: event, nas: nas, eventTimestamp: timestamp)
            let summary = Self.summary(event)
            let packet = state.withLock { s -> [UInt8]? in
                guard !s.stopped else { return nil }
                let identifier = s.takeIdentifier()
                let packet = RADIUSAccounting.request(identifier: identifier, fields: fields, secret: secret)
                let now = ContinuousClock.now
                s.pending.append(Request(identifier: identifier, fields: fields, packet: packet, firstTry: now,
                                         nextTry: now + retransmitInterval, summary: summary))
                s.statistics.sent += 1
                return packet
            }
            if let packet { transmit(packet, summary) }
        }
    }

    private static func summary(_ event: AccountingEvent) -> String {
        switch event.status {
        case .accountingOn: "Accounting-On"
        case .accountingOff: "Accounting-Off"
        case .start: "Start \(event.station.map { "\($0.mac)" } ?? "")"
        case .stop: "Stop \(event.station.map { "\($0.mac)" } ?? "")"
        }
    }

    private func transmit(_ packet: [UInt8], _ summary: String) {
        do { try socket.send(packet, to: server) } catch {
            logger.debug("radius accounting \(summary) to \(server): \(error)")
        }
    }

    private func receiveResponses() async {
        while !state.withLock({ $0.stopped }) {
            let datagram: (bytes: [UInt8], sender: IPv4Endpoint)
            do { datagram = try await socket.receive(maxBytes: 4096) } catch {
                if state.withLock({ $0.stopped }) { return }
                logger.debug("radius accounting receive: \(error)")
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            handle(datagram.bytes, from: datagram.sender)
        }
    }

    /// Matches a response to the pending request with its Identifier and checks its
    /// Response Authenticator; anything else is dropped and the request stays pending.
    func handle(_ bytes: [UInt8], from sender: IPv4Endpoint) {
        let outcome = state.withLock { s -> String? in
            guard sender == server else {
                s.statistics.dropped += 1
                return "radius accounting: a datagram from \(sender), not the server \(server): dropped"
            }
            guard bytes.count >= 20, bytes[0] == RADIUSAccounting.accountingResponse else {
                s.statistics.dropped += 1
                return "radius accounting: not an Accounting-Response (\(bytes.count) bytes, code \(bytes.first ?? 0)): dropped"
            }
            guard let index = s.pending.firstIndex(where: { $0.identifier == bytes[1] }) else {
                s.statistics.dropped += 1
                return "radius accounting: no pending request with identifier \(bytes[1]): response dropped"
            }
            guard RADIUSAccounting.isValidResponse(bytes, requestAuthenticator: s.pending[index].authenticator, secret: secret) else {
                s.statistics.dropped += 1
                return "radius accounting: the response to \(s.pending[index].summary) (id \(bytes[1])) "
                    + "did not have the correct Response Authenticator: dropped"
            }
            s.pending.remove(at: index)
            s.statistics.answered += 1
            return nil
        }
        if let outcome { logger.warning(outcome) }
    }

    private func retransmitDue() async {
        let step = min(.milliseconds(100), retransmitInterval / 4)
        while !state.withLock({ $0.stopped }) {
            try? await Task.sleep(for: step)
            retransmitDue(at: .now)
        }
    }

    /// Retransmits every request whose time has come, or gives it up after the last one.
    func retransmitDue(at now: ContinuousClock.Instant) {
        var resend: [([UInt8], String)] = []
        var givenUp: [String] = []
        state.withLock { s in
            guard !s.stopped else { return }
            var index = 0
            while index < s.pending.count {
                guard s.pending[index].nextTry <= now else { index += 1; continue }
                if s.pending[index].retransmissions >= maximumRetransmissions {
                    givenUp.append(s.pending.remove(at: index).summary)
                    s.statistics.unanswered += 1
                    continue
                }
                var request = s.pending[index]
                let delay = (now - request.firstTry).components.seconds
                if let slot = request.fields.firstIndex(where: { $0.type == RADIUSAccounting.Attribute.delayTime.rawValue }) {
                    request.fields[slot] = RADIUSAccounting.Field(.delayTime, integer: UInt32(clamping: max(0, delay)))
                }
                request.identifier = s.takeIdentifier()
                request.packet = RADIUSAccounting.request(identifier: request.identifier, fields: request.fields, secret: secret)
                request.retransmissions += 1
                request.nextTry = now + retransmitInterval
                s.pending[index] = request
                s.statistics.retransmitted += 1
                resend.append((request.packet, request.summary))
                index += 1
            }
        }
        for (packet, summary) in resend {
            logger.debug("radius accounting: no answer to \(summary): retransmitting")
            transmit(packet, summary)
        }
        for summary in givenUp {
            logger.warning("radius accounting: no valid Accounting-Response to \(summary) from \(server) "
                + "after \(maximumRetransmissions) retransmissions: giving up")
        }
    }
}

extension RADIUSAccountingClient.State {
    /// hostapd's `radius_client_get_id`: the next Identifier, wrapping at 256.
    mutating func takeIdentifier() -> UInt8 {
        defer { nextIdentifier &+= 1 }
        return nextIdentifier
    }
}
