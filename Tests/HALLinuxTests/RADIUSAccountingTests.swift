import Foundation
import HAL
@testable import HALLinux
import Logging
import Posix
import Testing

/// RFC 2866 accounting as qlinkd receives it from hostapd: the packet (authenticators,
/// structure, counters, station) and the server over a real UDP socket on loopback.
///
/// Every digest the tests expect is computed here with `ReferenceMD5` (RFC 1321, written
/// out below), never with the code under test, and assembled by the RFC formulas.
@Suite("RADIUS accounting (RFC 2866)")
struct RADIUSAccountingTests {
    typealias Packet = RADIUSAccountingPacket
    static let secret = Array("qltsecret".utf8)

    // MARK: - Building requests by hand

    static func attribute(_ type: UInt8, _ value: [UInt8]) -> [UInt8] { [type, UInt8(value.count + 2)] + value }
    static func attribute(_ type: UInt8, _ text: String) -> [UInt8] { attribute(type, Array(text.utf8)) }
    static func attribute(_ type: UInt8, int value: UInt32) -> [UInt8] {
        attribute(type, [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }

    /// RFC 2866 §3: Request Authenticator = MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret).
    static func signedRequest(code: UInt8 = 4, identifier: UInt8, body: [UInt8], secret: [UInt8] = secret) -> [UInt8] {
        let length = 20 + body.count
        let header: [UInt8] = [code, identifier, UInt8(length >> 8), UInt8(length & 0xFF)]
        return header + ReferenceMD5.digest(header + [UInt8](repeating: 0, count: 16) + body + secret) + body
    }

    /// RFC 2866 §3: Response Authenticator = MD5(Code + Identifier + Length + Request Authenticator + Attributes + Secret),
    /// here with no attributes (Length 20), as qlinkd answers.
    static func expectedResponse(to request: [UInt8], secret: [UInt8] = secret) -> [UInt8] {
        let header: [UInt8] = [5, request[1], 0, 20]
        return header + ReferenceMD5.digest(header + Array(request[4..<20]) + [] + secret)
    }

    static func stop(identifier: UInt8 = 7, session: String = "5F5DB79F84CABAA0", mac: String = "02-00-00-00-00-0A",
                     delay: UInt32 = 0, secret: [UInt8] = secret) -> [UInt8] {
        let body = attribute(40, int: 2) + attribute(1, "qltuser") + attribute(31, mac) + attribute(44, session)
            + attribute(41, int: delay) + attribute(46, int: 61)
            + attribute(47, int: 10) + attribute(42, int: 5) + attribute(52, int: 1)
            + attribute(48, int: 20) + attribute(43, int: 7) + attribute(53, int: 2) + attribute(49, int: 1)
        return signedRequest(identifier: identifier, body: body, secret: secret)
    }

    static func status(_ status: UInt32, identifier: UInt8, session: String = "5F5DB79F84CABAA0", extra: [UInt8] = []) -> [UInt8] {
        signedRequest(identifier: identifier, body: attribute(40, int: status) + attribute(31, "02-00-00-00-00-0A")
                      + attribute(44, session) + attribute(41, int: 0) + extra)
    }

    static let stopCounters = TrafficCounters(upBytes: (1 << 32) + 5, downBytes: (2 << 32) + 7, upPackets: 10, downPackets: 20, width: .bits64)
    static let station = MACAddress("02:00:00:00:00:0a")!

    /// What hostapd 2.10 (Debian 2:2.10-12+deb12u3, `driver=wired`, EAP-MD5) sent to an
    /// accounting server with `acct_server_shared_secret=qltsecret`, captured on loopback:
    /// Accounting-On at start, Start when the station was authorised, Interim-Update
    /// (`radius_acct_interim_interval=2`) and Stop after `wpa_cli logoff`. No octet
    /// counters anywhere: the wired driver reads none.
    enum Captured {
        static let accountingOn = hex("""
            04000052a026096d692690a34dbe7f7e0be1c3b22806000000071e1430322d30302d30302d35312d30412d30313a3d060000001337066b\
            0140342906000000002c1245443030454234393835303936374539
            """)
        static let start = hex("""
            04010096292fb98e9442a60f24a107102876876e2806000000012d0600000001010e3032303030303531306230311e1430322d30302d30\
            302d35312d30412d30313a3d06000000130606000000021f1330322d30302d30302d35312d30422d30314d17434f4e4e45435420304d62\
            7073203830322e3131622c124539313843393833393339373530354537066b014036290600000000
            """)
        static let interim = hex("""
            0402009c48ed4e4a13beccb6506cbc46811aee582806000000032d0600000001010e3032303030303531306230311e1430322d30302d30\
            302d35312d30412d30313a3d06000000130606000000021f1330322d30302d30302d35312d30422d30314d17434f4e4e45435420304d62\
            7073203830322e3131622c124539313843393833393339373530354537066b0140382906000000002e0600000002
            """)
        static let stop = hex("""
            040400a215d6ec5fcc17931612ab1e6d684527312806000000022d0600000001010e3032303030303531306230311e1430322d30302d30\
            302d35312d30412d30313a3d06000000130606000000021f1330322d30302d30302d35312d30422d30314d17434f4e4e45435420304d62\
            7073203830322e3131622c124539313843393833393339373530354537066b01403c2906000000002e0600000005310600000001
            """)
        static let station = MACAddress("02:00:00:51:0b:01")!
    }

    // MARK: - The reference digest

    @Test func referenceMD5MatchesRFC1321() {
        #expect(hexString(ReferenceMD5.digest([])) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hexString(ReferenceMD5.digest(Array("abc".utf8))) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hexString(ReferenceMD5.digest(Array("message digest".utf8))) == "f96b697d7cb7938d525a2f31aaf161d0")
        #expect(hexString(ReferenceMD5.digest(Array("12345678901234567890123456789012345678901234567890123456789012345678901234567890".utf8)))
                == "57edf4a22be3c955ac49da2e2107b67a")
    }

    // MARK: - Request authenticator

    @Test func handBuiltRequestVerifies() throws {
        let bytes = Self.stop()
        let packet = try Packet(request: bytes, secret: Self.secret)
        #expect(packet.code == 4)
        #expect(packet.identifier == 7)
        #expect(packet.authenticator == Array(bytes[4..<20]))
        #expect(packet.attributes.map(\.type) == [40, 1, 31, 44, 41, 46, 47, 42, 52, 48, 43, 53, 49])
        #expect(packet.statusType == .stop)
        // The package's own builder signs the same bytes.
        let rebuilt = Packet.request(identifier: 7, attributes: packet.attributes.map { ($0.type, $0.value) }, secret: Self.secret)
        #expect(rebuilt == bytes)
    }

    @Test func realHostapdPacketsVerify() throws {
        let on = try Packet(request: Captured.accountingOn, secret: Self.secret)
        #expect(on.statusType == .accountingOn)
        #expect(on.station == nil)
        let start = try Packet(request: Captured.start, secret: Self.secret)
        #expect(start.statusType == .start)
        #expect(start.station == Captured.station)
        let interim = try Packet(request: Captured.interim, secret: Self.secret)
        #expect(interim.statusType == .interimUpdate)
        #expect(interim.counters == nil)
        let stop = try Packet(request: Captured.stop, secret: Self.secret)
        #expect(stop.statusType == .stop)
        #expect(stop.station == Captured.station, "hostapd writes Calling-Station-Id as 02-00-00-51-0B-01")
        #expect(stop.integer(.sessionTime) == 5)
        #expect(stop.integer(.terminateCause) == 1, "User-Request (EAPOL-Logoff)")
        #expect(stop.value(.sessionID) == Array("E918C9839397505E".utf8))
        #expect(stop.counters == nil, "driver=wired: the Stop carries no octets")
    }

    @Test func wrongSecretIsRefused() {
        #expect(throws: Packet.ParseError.badAuthenticator) { try Packet(request: Self.stop(), secret: Array("qltsecreT".utf8)) }
        #expect(throws: Packet.ParseError.badAuthenticator) { try Packet(request: Self.stop(secret: Array("other".utf8)), secret: Self.secret) }
        #expect(throws: Packet.ParseError.badAuthenticator) { try Packet(request: Captured.stop, secret: Array("qltsecret ".utf8)) }
        #expect(Packet.ParseError.badAuthenticator.description == "Request Authenticator does not match the shared secret")
    }

    @Test func flippedBytesAreRefused() throws {
        let bytes = Self.stop()
        // Identifier, every authenticator octet, and attribute values (the Status-Type, the MAC, an octet count).
        for index in [1] + Array(4..<20) + [25, 40, 80, bytes.count - 1] {
            var flipped = bytes
            flipped[index] ^= 0x01
            #expect(throws: Packet.ParseError.badAuthenticator, "byte \(index)") { try Packet(request: flipped, secret: Self.secret) }
        }
        // No single-bit change anywhere is accepted: it is either malformed or fails the authenticator.
        for index in bytes.indices {
            for bit in 0..<8 {
                var flipped = bytes
                flipped[index] ^= 1 << bit
                #expect(throws: Packet.ParseError.self, "byte \(index) bit \(bit)") { try Packet(request: flipped, secret: Self.secret) }
            }
        }
        #expect(throws: Packet.ParseError.malformed("code 5 is not Accounting-Request")) {
            try Packet(request: Self.signedRequest(code: 5, identifier: 1, body: Self.attribute(40, int: 2)), secret: Self.secret)
        }
    }

    // MARK: - Malformed packets

    @Test func truncatedPacketsAreMalformed() {
        let bytes = Self.stop()
        #expect(throws: Packet.ParseError.malformed("19 bytes is shorter than a header")) { try Packet(request: Array(bytes.prefix(19)), secret: Self.secret) }
        #expect(throws: Packet.ParseError.malformed("0 bytes is shorter than a header")) { try Packet(request: [], secret: Self.secret) }
        // The datagram is shorter than its Length field says.
        #expect(throws: Packet.ParseError.malformed("length field \(bytes.count) for \(bytes.count - 1) bytes")) {
            try Packet(request: Array(bytes.dropLast()), secret: Self.secret)
        }
        // A Length field below the header size.
        var short = Self.signedRequest(identifier: 1, body: [])
        short[3] = 19
        #expect(throws: Packet.ParseError.malformed("length field 19 for 20 bytes")) { try Packet(request: short, secret: Self.secret) }
        #expect(Packet.ParseError.malformed("19 bytes is shorter than a header").description == "malformed RADIUS packet: 19 bytes is shorter than a header")
    }

    @Test func oversizedPacketsAreMalformed() {
        // RFC 2865 §3: Length is at most 4096.
        func request(totalLength: Int) -> [UInt8] {
            let filler = (0..<17).flatMap { _ in Self.attribute(26, [UInt8](repeating: 0x41, count: 237)) }
            return Self.signedRequest(identifier: 1, body: filler + Self.attribute(26, [UInt8](repeating: 0x42, count: totalLength - 20 - filler.count - 2)))
        }
        let huge = request(totalLength: 4097)
        #expect(huge.count == 4097)
        #expect(throws: Packet.ParseError.malformed("length field 4097 for 4097 bytes")) { try Packet(request: huge, secret: Self.secret) }
        let largest = request(totalLength: 4096)
        #expect(largest.count == 4096)
        #expect(throws: Never.self) { try Packet(request: largest, secret: Self.secret) }
    }

    @Test func octetsPastTheLengthFieldArePaddingAndIgnored() throws {
        // RFC 2865 §3: "Octets outside the range of the Length field MUST be treated as padding and ignored."
        let bytes = Self.stop()
        let packet = try Packet(request: bytes + [0xDE, 0xAD], secret: Self.secret)
        #expect(packet == (try Packet(request: bytes, secret: Self.secret)))
        #expect(packet.response(secret: Self.secret) == Self.expectedResponse(to: bytes))
    }

    @Test func badAttributeLengthsAreMalformed() {
        let status = Self.attribute(40, int: 2)
        // Length 1 (below the 2-octet attribute header).
        #expect(throws: Packet.ParseError.malformed("attribute 31 has length 1 at 26")) {
            try Packet(request: Self.signedRequest(identifier: 1, body: status + [31, 1, 0x30, 0x30]), secret: Self.secret)
        }
        // Length 0 (would loop forever if accepted).
        #expect(throws: Packet.ParseError.malformed("attribute 31 has length 0 at 26")) {
            try Packet(request: Self.signedRequest(identifier: 1, body: status + [31, 0]), secret: Self.secret)
        }
        // Running past the packet's Length.
        #expect(throws: Packet.ParseError.malformed("attribute 31 has length 9 at 26")) {
            try Packet(request: Self.signedRequest(identifier: 1, body: status + [31, 9, 0x30, 0x32]), secret: Self.secret)
        }
        // A lone type octet with no length octet.
        #expect(throws: Packet.ParseError.malformed("attribute header cut off at 26")) {
            try Packet(request: Self.signedRequest(identifier: 1, body: status + [31]), secret: Self.secret)
        }
        // An attribute that runs past Length but not past the datagram (the rest is padding) is still malformed.
        var padded = Self.signedRequest(identifier: 1, body: status + [31, 2])
        padded[27] = 4
        #expect(throws: Packet.ParseError.malformed("attribute 31 has length 4 at 26")) { try Packet(request: padded + [0x30, 0x30], secret: Self.secret) }
    }

    // MARK: - Response authenticator

    @Test func responseAuthenticatorFollowsRFC2866() throws {
        for request in [Self.stop(), Self.stop(identifier: 255), Self.status(1, identifier: 0), Captured.stop, Captured.accountingOn] {
            let packet = try Packet(request: request, secret: Self.secret)
            let response = packet.response(secret: Self.secret)
            #expect(response == Self.expectedResponse(to: request))
            #expect(response.count == 20)
            #expect(Array(response[0..<4]) == [5, request[1], 0, 20], "Accounting-Response, same Identifier, Length 20")
            #expect(response != Self.expectedResponse(to: request, secret: Array("other".utf8)))
        }
    }

    // MARK: - Counters and station

    @Test func countersJoinGigawords() throws {
        let packet = try Packet(request: Self.stop(), secret: Self.secret)
        // Input is what the NAS received from the station: the subscriber's upload.
        #expect(packet.counters == Self.stopCounters)
        #expect(packet.counters?.upBytes == 4_294_967_301)
        #expect(packet.counters?.downBytes == 8_589_934_599)
    }

    @Test func countersWithoutGigawordsOrPacketsAndMissingCounters() throws {
        let plain = try Packet(request: Self.status(2, identifier: 1, extra: Self.attribute(42, int: 0xFFFF_FFFF) + Self.attribute(43, int: 9)),
                               secret: Self.secret)
        #expect(plain.counters == TrafficCounters(upBytes: 0xFFFF_FFFF, downBytes: 9, upPackets: 0, downPackets: 0, width: .bits64))
        let inputOnly = try Packet(request: Self.status(2, identifier: 1, extra: Self.attribute(42, int: 5)), secret: Self.secret)
        #expect(inputOnly.counters == nil, "no Acct-Output-Octets: no counters")
        let none = try Packet(request: Self.status(2, identifier: 1), secret: Self.secret)
        #expect(none.counters == nil)
        let wrongSize = try Packet(request: Self.status(2, identifier: 1, extra: Self.attribute(42, [0, 5]) + Self.attribute(43, int: 9)),
                                   secret: Self.secret)
        #expect(wrongSize.counters == nil, "an integer attribute is 4 octets")
    }

    @Test func callingStationIDIsTheStation() throws {
        let packet = try Packet(request: Self.stop(), secret: Self.secret)
        #expect(packet.station == Self.station)
        #expect(packet.station?.description == "02:00:00:00:00:0a")
        let lower = try Packet(request: Self.stop(mac: "02-00-00-00-00-0a"), secret: Self.secret)
        #expect(lower.station == Self.station)
        let garbage = try Packet(request: Self.stop(mac: "not-a-mac"), secret: Self.secret)
        #expect(garbage.station == nil)
        let missing = try Packet(request: Self.signedRequest(identifier: 1, body: Self.attribute(40, int: 2)), secret: Self.secret)
        #expect(missing.station == nil)
    }

    // MARK: - The server over UDP on 127.0.0.1

    /// A running server on 127.0.0.1 port 0 and a client socket; `stop()` cancels it.
    final class Harness: Sendable {
        let server: RADIUSAccountingServer
        let events = EventLog()
        let logs = InMemoryLogHandler()
        let client: UDPSocket
        let runner: Task<Void, any Error>

        init(secret: String = "qltsecret") throws {
            server = try RADIUSAccountingServer(endpoint: IPv4Endpoint(host: "127.0.0.1", port: 0), secret: secret,
                                                logger: Logger(label: "radius", level: .debug, handler: logs))
            client = try UDPSocket(bindingTo: IPv4Endpoint(host: "127.0.0.1", port: 0))
            runner = Task { [server, events] in try await server.run(events: events.sink) }
        }

        func send(_ request: [UInt8]) throws { try client.send(request, to: server.endpoint) }

        /// The next datagram from the server, or nil if none comes within `seconds`.
        func answer(within seconds: Double = 5) async throws -> [UInt8]? {
            do {
                let (bytes, sender) = try await client.receive(deadline: .now + .milliseconds(Int(seconds * 1000)))
                #expect(sender == server.endpoint)
                return bytes
            } catch let error as SystemError where error.errno == .timedOut {
                return nil
            }
        }

        /// Sends `request` and returns the answer. The server reports before it answers, so
        /// once the answer is here any event for the request is in `events`.
        func exchange(_ request: [UInt8]) async throws -> [UInt8]? {
            try send(request)
            return try await answer()
        }

        func stop() async {
            runner.cancel()
            _ = await runner.result
            client.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func stopIsReportedOnceAndAnswered() async throws {
        let h = try Harness()
        #expect(h.server.endpoint.host == "127.0.0.1")
        #expect(h.server.endpoint.port != 0, "port 0 resolves to the bound port")
        let request = Self.stop()
        let answer = try await h.exchange(request)
        #expect(answer == Self.expectedResponse(to: request))
        #expect(h.events.events == [.finalCounters(.mac(Self.station), Self.stopCounters, sessionSeconds: 61)])

        // A retransmission (same Identifier and Authenticator): answered again, not reported again.
        let again = try await h.exchange(request)
        #expect(again == Self.expectedResponse(to: request))
        #expect(h.events.events.count == 1)
        await h.stop()
        #expect(h.events.events == [.finalCounters(.mac(Self.station), Self.stopCounters, sessionSeconds: 61)])
    }

    /// hostapd 2.10 retransmits accounting with Acct-Delay-Time updated and so (RFC 2866
    /// §5.2) with a new Identifier and Request Authenticator (`RADIUS: Updated
    /// Acct-Delay-Time to %u for retransmission`). That is still the same Stop.
    @Test(.timeLimit(.minutes(1)))
    func hostapdStyleRetransmissionIsNotReportedTwice() async throws {
        let h = try Harness()
        let first = Self.stop(identifier: 7, delay: 0)
        let retransmitted = Self.stop(identifier: 8, delay: 3)
        #expect(Array(first[4..<20]) != Array(retransmitted[4..<20]))
        #expect(try await h.exchange(first) == Self.expectedResponse(to: first))
        #expect(try await h.exchange(retransmitted) == Self.expectedResponse(to: retransmitted), "answered, with its own Identifier")
        #expect(h.events.events.count == 1)

        // Another session's Stop (a different Acct-Session-Id) is reported.
        let other = Self.stop(identifier: 9, session: "0123456789ABCDEF")
        #expect(try await h.exchange(other) == Self.expectedResponse(to: other))
        #expect(h.events.events == [HALEvent](repeating: .finalCounters(.mac(Self.station), Self.stopCounters, sessionSeconds: 61), count: 2))
        await h.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func badSecretAndGarbageGetNoAnswer() async throws {
        let h = try Harness()
        try h.send(Self.stop(identifier: 1, secret: Array("wrong".utf8)))
        try h.send([4, 2, 0, 10, 1, 2, 3])
        try h.send(Array(Self.stop(identifier: 3).dropLast()))
        // The server handles datagrams in order: the first answer is to the good request sent last.
        let good = Self.status(1, identifier: 4)
        let answer = try await h.exchange(good)
        #expect(answer == Self.expectedResponse(to: good))
        #expect(try await h.answer(within: 0.3) == nil, "nothing else was answered")
        #expect(h.events.events.isEmpty)
        // Only the first drop (and then every 100th) is logged, so a flood cannot fill the log.
        let warnings = h.logs.entries.filter { $0.level == .warning }.map(\.message)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("Request Authenticator does not match the shared secret (1 dropped)") == true, "\(warnings)")
        #expect(warnings.first?.hasPrefix("radius accounting from 127.0.0.1:\(h.client.localPort!)") == true, "\(warnings)")
        await h.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func startInterimOnOffAreAnsweredNotReported() async throws {
        let h = try Harness()
        for (status, id) in [(UInt32(1), UInt8(10)), (3, 11), (7, 12), (8, 13)] {
            let request = Self.status(status, identifier: id, extra: Self.attribute(42, int: 100) + Self.attribute(43, int: 200))
            #expect(try await h.exchange(request) == Self.expectedResponse(to: request), "status \(status)")
        }
        for request in [Captured.accountingOn, Captured.start, Captured.interim] {
            #expect(try await h.exchange(request) == Self.expectedResponse(to: request))
        }
        #expect(h.events.events.isEmpty, "only a Stop carries final counters")
        await h.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func stopsWithoutCountersOrStationAreAnsweredNotReported() async throws {
        let h = try Harness()
        // hostapd with driver=wired: a Stop without octets.
        #expect(try await h.exchange(Captured.stop) == Self.expectedResponse(to: Captured.stop))
        #expect(h.logs.contains("Accounting-Stop for 02:00:00:51:0b:01 without counters"))
        let anonymous = Self.signedRequest(identifier: 20, body: Self.attribute(40, int: 2) + Self.attribute(42, int: 1) + Self.attribute(43, int: 2))
        #expect(try await h.exchange(anonymous) == Self.expectedResponse(to: anonymous))
        #expect(h.logs.contains("without a Calling-Station-Id", atLeast: .warning))
        let noStatus = Self.signedRequest(identifier: 21, body: Self.attribute(31, "02-00-00-00-00-0A"))
        #expect(try await h.exchange(noStatus) == Self.expectedResponse(to: noStatus))
        #expect(h.logs.contains("without a valid Acct-Status-Type", atLeast: .warning))
        #expect(h.events.events.isEmpty)
        // The loop goes on: a real Stop afterwards is still reported.
        #expect(try await h.exchange(Self.stop()) == Self.expectedResponse(to: Self.stop()))
        #expect(h.events.events == [.finalCounters(.mac(Self.station), Self.stopCounters, sessionSeconds: 61)])
        await h.stop()
    }

    @Test func emptySecretAndTakenPortAreErrorsAtStart() throws {
        let logger = Logger(label: "radius", level: .debug, handler: InMemoryLogHandler())
        #expect(throws: HALError.self) { try RADIUSAccountingServer(endpoint: IPv4Endpoint(host: "127.0.0.1", port: 0), secret: "", logger: logger) }
        let taken = try UDPSocket(bindingTo: IPv4Endpoint(host: "127.0.0.1", port: 0))
        defer { taken.close() }
        #expect(throws: SystemError.self) {
            try RADIUSAccountingServer(endpoint: IPv4Endpoint(host: "127.0.0.1", port: taken.localPort!), secret: "s", logger: logger)
        }
    }

    @Test func recentRequestsForgetTheOldestBeyondCapacity() throws {
        var recent = RecentRequests(capacity: 2)
        let sender = IPv4Endpoint(host: "127.0.0.1", port: 1812)
        let keys = try [Self.stop(session: "A"), Self.stop(session: "B"), Self.stop(session: "C")].map {
            RecentRequests.Key(sender: sender, packet: try Packet(request: $0, secret: Self.secret))
        }
        recent.insert(keys[0])
        recent.insert(keys[1])
        recent.insert(keys[1])
        #expect(recent.contains(keys[0]) && recent.contains(keys[1]))
        recent.insert(keys[2])
        #expect(!recent.contains(keys[0]))
        #expect(recent.contains(keys[1]) && recent.contains(keys[2]))
    }
}

// MARK: - Helpers

fileprivate func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

fileprivate func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// MD5 as RFC 1321 defines it, for the tests only: the expected authenticators come from
/// here, not from the Nettle binding the code under test uses.
fileprivate enum ReferenceMD5 {
    private static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]
    /// K[i] = floor(|sin(i + 1)| * 2^32).
    private static let constants: [UInt32] = (0..<64).map { UInt32(abs(sin(Double($0 + 1))) * 4_294_967_296.0) }

    static func digest(_ message: [UInt8]) -> [UInt8] {
        var state: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476]
        var data = message + [0x80]
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) * 8
        for i in 0..<8 { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(8 * i))) }
        for chunk in stride(from: 0, to: data.count, by: 64) {
            var words = [UInt32](repeating: 0, count: 16)
            for j in 0..<16 {
                for b in 0..<4 { words[j] |= UInt32(data[chunk + 4 * j + b]) << UInt32(8 * b) }
            }
            var a = state[0], b = state[1], c = state[2], d = state[3]
            for i in 0..<64 {
                var f: UInt32
                let g: Int
                switch i {
                case 0..<16: f = (b & c) | (~b & d); g = i
                case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ constants[i] &+ words[g]
                let s = shifts[(i / 16) * 4 + i % 4]
                a = d
                d = c
                c = b
                b = b &+ (f << s | f >> (32 - s))
            }
            state[0] &+= a
            state[1] &+= b
            state[2] &+= c
            state[3] &+= d
        }
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(8 * $0)) } }
    }
}
