import HAL

/// Something the emulated hostapd reports to its RADIUS accounting server (RFC 2866), as
/// hostapd 2.10's `src/ap/accounting.c` does: Accounting-On when it starts, Start when a
/// station's session begins, Stop with the session's final counters when it ends,
/// Accounting-Off when it goes down. The world decides what and when (under its lock, in
/// the same step as the control-interface event); `RADIUSAccountingClient` encodes, sends
/// and retransmits.
public struct AccountingEvent: Sendable, Equatable {
    /// Acct-Status-Type (RFC 2866 §5.1). Interim-Update (3) is not sent.
    public enum Status: UInt32, Sendable {
        case start = 1, stop = 2, accountingOn = 7, accountingOff = 8
    }

    /// Acct-Terminate-Cause (RFC 2866 §5.10), as far as hostapd sets one.
    public enum TerminateCause: UInt32, Sendable {
        /// The station left by itself (hostapd's handle_deauth/handle_disassoc).
        case userRequest = 1
        /// hostapd terminated (its Stop is built while `eloop_terminated()`).
        case adminReboot = 7
    }

    /// The station a Start or Stop is about.
    public struct Station: Sendable, Equatable {
        public var mac: MACAddress
        /// Its association id (hostapd's NAS-Port).
        public var aid: Int

        public init(mac: MACAddress, aid: Int) {
            self.mac = mac
            self.aid = aid
        }
    }

    /// A Stop's final word on the session: the driver's counters at the instant it ended.
    public struct Final: Sendable, Equatable {
        /// Acct-Session-Time: real seconds since the session started (as `connected_time`).
        public var sessionSeconds: UInt64
        /// The driver's byte counters since they last started from zero (the association, or
        /// a counter reset), never truncated: Acct-Input-Octets is the low 32 bits, and
        /// Acct-Input-Gigawords the rest, i.e. how often the reported counter wrapped since.
        /// The low bits (all of them with 64-bit counters) are exactly what `STA` reports
        /// as `rx_bytes` / `tx_bytes` at that instant. Input = from the station = up.
        public var upBytes: UInt64
        public var downBytes: UInt64
        /// `rx_packets` / `tx_packets` as `STA` reports them, truncated to 32 bits as hostapd's
        /// `radius_msg_add_attr_int32` does.
        public var upPackets: UInt32
        public var downPackets: UInt32

        public init(sessionSeconds: UInt64, upBytes: UInt64, downBytes: UInt64, upPackets: UInt32, downPackets: UInt32) {
            self.sessionSeconds = sessionSeconds
            self.upBytes = upBytes
            self.downBytes = downBytes
            self.upPackets = upPackets
            self.downPackets = downPackets
        }
    }

    public var status: Status
    /// Acct-Session-Id: the station's session (Start/Stop) or hostapd's own (On/Off), printed
    /// as 16 uppercase hex digits.
    public var sessionID: UInt64
    public var station: Station?
    public var final: Final?
    public var terminateCause: TerminateCause?

    public init(status: Status, sessionID: UInt64, station: Station? = nil, final: Final? = nil, terminateCause: TerminateCause? = nil) {
        self.status = status
        self.sessionID = sessionID
        self.station = station
        self.final = final
        self.terminateCause = terminateCause
    }
}

extension WorldState {
    /// Accounting-On with a fresh hostapd session id (hostapd's `accounting_init`, run when it
    /// starts and when the interface is enabled again).
    mutating func accountingOn() {
        hostapdAccountingSession = accountingRandom.next()
        guard accountingEnabled else { return }
        accountingEvents.append(AccountingEvent(status: .accountingOn, sessionID: hostapdAccountingSession))
    }

    /// Accounting-Off (hostapd's `accounting_deinit`: on termination and on DISABLE).
    mutating func accountingOff() {
        guard accountingEnabled else { return }
        accountingEvents.append(AccountingEvent(status: .accountingOff, sessionID: hostapdAccountingSession))
    }

    mutating func accountingStart(_ i: Int) {
        guard accountingEnabled, let mac = subscribers[i].mac, let session = subscribers[i].session else { return }
        accountingEvents.append(AccountingEvent(status: .start, sessionID: session.accountingID,
                                                station: .init(mac: mac, aid: session.aid)))
    }

    /// The Stop of station `i`'s session, with its counters as the driver reports them now.
    mutating func accountingStop(_ i: Int, cause: AccountingEvent.TerminateCause?) {
        guard accountingEnabled, let mac = subscribers[i].mac, let session = subscribers[i].session else { return }
        let mask = configuration.counterWidth.maximum
        let final = AccountingEvent.Final(
            sessionSeconds: UInt64(max(0, realTime - session.startReal)),
            upBytes: session.upBytes &+ session.upAdjust, downBytes: session.downBytes &+ session.downAdjust,
            upPackets: UInt32(truncatingIfNeeded: (session.upPackets &+ session.upPacketAdjust) & mask),
            downPackets: UInt32(truncatingIfNeeded: (session.downPackets &+ session.downPacketAdjust) & mask))
        accountingEvents.append(AccountingEvent(status: .stop, sessionID: session.accountingID,
                                                station: .init(mac: mac, aid: session.aid), final: final, terminateCause: cause))
    }

    /// Accounting starts now: Accounting-On, then a Start for every station already associated.
    mutating func enableAccounting() {
        guard !accountingEnabled else { return }
        accountingEnabled = true
        guard hostapd == .running, apEnabled else { return }
        accountingOn()
        // Oldest association first, as they would have come.
        for mac in stationOrder.reversed() {
            if let i = indexByMAC[mac], subscribers[i].session != nil { accountingStart(i) }
        }
    }
}
