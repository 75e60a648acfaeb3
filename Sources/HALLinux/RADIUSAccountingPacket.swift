import Crypto
import HAL

/// A RADIUS accounting packet (RFC 2866), as hostapd sends them when `acct_server_addr`
/// is set: Start when a station is authorised, Interim-Update every
/// `radius_acct_interim_interval`, Stop with the session's final counters.
struct RADIUSAccountingPacket: Equatable {
    static let accountingRequest: UInt8 = 4
    static let accountingResponse: UInt8 = 5

    enum StatusType: UInt32 {
        case start = 1, stop = 2, interimUpdate = 3, accountingOn = 7, accountingOff = 8
    }

    /// Attribute numbers (RFC 2865/2866/2869).
    enum Attribute: UInt8 {
        case userName = 1, callingStationID = 31, statusType = 40, delayTime = 41, inputOctets = 42, outputOctets = 43, sessionID = 44,
             sessionTime = 46, inputPackets = 47, outputPackets = 48, terminateCause = 49, inputGigawords = 52, outputGigawords = 53
    }

    let code: UInt8
    let identifier: UInt8
    let authenticator: [UInt8]
    let attributes: [(type: UInt8, value: [UInt8])]

    static func == (a: Self, b: Self) -> Bool {
        a.code == b.code && a.identifier == b.identifier && a.authenticator == b.authenticator
            && a.attributes.map(\.type) == b.attributes.map(\.type) && a.attributes.map(\.value) == b.attributes.map(\.value)
    }

    enum ParseError: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case badAuthenticator

        var description: String {
            switch self {
            case .malformed(let why): "malformed RADIUS packet: \(why)"
            case .badAuthenticator: "Request Authenticator does not match the shared secret"
            }
        }
    }

    /// Parses an Accounting-Request and checks its authenticator:
    /// MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret).
    init(request bytes: [UInt8], secret: [UInt8]) throws(ParseError) {
        guard bytes.count >= 20 else { throw .malformed("\(bytes.count) bytes is shorter than a header") }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard (20...4096).contains(length), length <= bytes.count else { throw .malformed("length field \(length) for \(bytes.count) bytes") }
        guard bytes[0] == Self.accountingRequest else { throw .malformed("code \(bytes[0]) is not Accounting-Request") }
        var attributes: [(UInt8, [UInt8])] = []
        var offset = 20
        while offset < length {
            guard offset + 2 <= length else { throw .malformed("attribute header cut off at \(offset)") }
            let size = Int(bytes[offset + 1])
            guard size >= 2, offset + size <= length else { throw .malformed("attribute \(bytes[offset]) has length \(size) at \(offset)") }
            attributes.append((bytes[offset], Array(bytes[(offset + 2)..<(offset + size)])))
            offset += size
        }
        let packet = Array(bytes[..<length])
        let signed = Array(packet[..<4]) + [UInt8](repeating: 0, count: 16) + Array(packet[20...]) + secret
        guard Hash.radiusMD5(signed) == Array(packet[4..<20]) else { throw .badAuthenticator }
        code = bytes[0]
        identifier = bytes[1]
        authenticator = Array(packet[4..<20])
        self.attributes = attributes
    }

    /// The Accounting-Response to this request:
    /// MD5(Code + Identifier + Length + Request Authenticator + Attributes + Secret).
    func response(secret: [UInt8]) -> [UInt8] {
        let header: [UInt8] = [Self.accountingResponse, identifier, 0, 20]
        return header + Hash.radiusMD5(header + authenticator + secret)
    }

    func value(_ attribute: Attribute) -> [UInt8]? {
        attributes.first { $0.type == attribute.rawValue }?.value
    }

    func integer(_ attribute: Attribute) -> UInt32? {
        guard let bytes = value(attribute), bytes.count == 4 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// What a retransmission repeats: every attribute but Acct-Delay-Time. hostapd 2.10
    /// updates Acct-Delay-Time when it retransmits accounting, and so (RFC 2866 §5.2) gives
    /// the retransmission a new Identifier and Request Authenticator: those cannot tell it.
    var retransmissionKey: [UInt8] {
        attributes.filter { $0.type != Attribute.delayTime.rawValue }.flatMap { [$0.type, UInt8($0.value.count)] + $0.value }
    }

    var statusType: StatusType? { integer(.statusType).flatMap(StatusType.init(rawValue:)) }

    /// The station, from Calling-Station-Id (hostapd writes `02-00-00-00-00-01`).
    var station: MACAddress? {
        guard let bytes = value(.callingStationID) else { return nil }
        return MACAddress(String(decoding: bytes, as: UTF8.self).replacing("-", with: ":"))
    }

    /// Octets and packets with their gigawords: the counters as 64-bit totals.
    var counters: TrafficCounters? {
        guard let inOctets = integer(.inputOctets), let outOctets = integer(.outputOctets) else { return nil }
        let up = UInt64(integer(.inputGigawords) ?? 0) << 32 | UInt64(inOctets)
        let down = UInt64(integer(.outputGigawords) ?? 0) << 32 | UInt64(outOctets)
        return TrafficCounters(upBytes: up, downBytes: down, upPackets: UInt64(integer(.inputPackets) ?? 0),
                               downPackets: UInt64(integer(.outputPackets) ?? 0), width: .bits64)
    }

    /// Builds a signed request (for tests and tools).
    static func request(identifier: UInt8, attributes: [(UInt8, [UInt8])], secret: [UInt8]) -> [UInt8] {
        let body = attributes.flatMap { [$0.0, UInt8($0.1.count + 2)] + $0.1 }
        let length = 20 + body.count
        let header: [UInt8] = [accountingRequest, identifier, UInt8(length >> 8), UInt8(length & 0xFF)]
        let authenticator = Hash.radiusMD5(header + [UInt8](repeating: 0, count: 16) + body + secret)
        return header + authenticator + body
    }
}

extension UInt32 {
    var bigEndianBytes: [UInt8] { [UInt8(self >> 24), UInt8(self >> 16 & 0xFF), UInt8(self >> 8 & 0xFF), UInt8(self & 0xFF)] }
}
