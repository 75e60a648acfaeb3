import Testing
import FoundationEssentials
@testable import HAL

struct IdentifierTests {
    @Test func macAddressesParseAndPrintLowerCase() {
        #expect(MACAddress("02:AB:cd:00:11:ff")?.description == "02:ab:cd:00:11:ff")
        for bad in ["", "02:ab:cd:00:11", "02:ab:cd:00:11:ff:00", "0g:00:00:00:00:00", "2:ab:cd:00:11:ff"] {
            #expect(MACAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func subscriberIDsRoundTrip() throws {
        #expect(SubscriberID("mac:02:00:00:00:00:01")?.kind == "wifi")
        #expect(SubscriberID("imsi:001010000000001")?.kind == "lte")
        #expect(SubscriberID("imsi:0010100000000011") == nil)
        #expect(SubscriberID("imsi:00101x") == nil)
        #expect(SubscriberID("tel:123") == nil)
        let id = SubscriberID("mac:02:00:00:00:00:01")!
        let json = try JSONEncoder().encode([id])
        #expect(String(decoding: json, as: UTF8.self) == "[\"mac:02:00:00:00:00:01\"]")
        #expect(try JSONDecoder().decode([SubscriberID].self, from: json) == [id])
    }
}

struct CounterTests {
    @Test func deltaAcrossA32BitWrap() {
        let before = TrafficCounters(upBytes: UInt64(UInt32.max) - 9, downBytes: 5, width: .bits32)
        let after = TrafficCounters(upBytes: 10, downBytes: 6, width: .bits32)
        let delta = after.delta(since: before)
        #expect(delta.upBytes == 20 && delta.downBytes == 1 && delta.wrapped && !delta.reset)
    }

    @Test func a64BitCounterGoingBackIsAReset() {
        let delta = TrafficCounters(upBytes: 3, downBytes: 100, width: .bits64)
            .delta(since: TrafficCounters(upBytes: 50, downBytes: 50, width: .bits64))
        #expect(delta.upBytes == 3 && delta.downBytes == 100 && delta.reset && !delta.wrapped, "after a reset the whole reading is new")
    }

    @Test func aDropFromTheLowerHalfIsAResetNotAWrap() {
        let delta = TrafficCounters(upBytes: 1000, downBytes: 10, width: .bits32)
            .delta(since: TrafficCounters(upBytes: 3_000_000, downBytes: 5, width: .bits32))
        #expect(delta.reset && delta.upBytes == 1000 && delta.downBytes == 10)
    }

    @Test func packetsGoingBackBetrayAResetThatLooksLikeAWrap() {
        let earlier = TrafficCounters(upBytes: UInt64(UInt32.max) - 8191, downBytes: 0, upPackets: 500, downPackets: 0, width: .bits32)
        let wrapped = TrafficCounters(upBytes: 100, downBytes: 0, upPackets: 510, downPackets: 0, width: .bits32)
        #expect(wrapped.delta(since: earlier).upBytes == 8292)
        let reset = TrafficCounters(upBytes: 100, downBytes: 0, upPackets: 3, downPackets: 0, width: .bits32)
        let delta = reset.delta(since: earlier)
        #expect(delta.reset && delta.upBytes == 100 && delta.upPackets == 3)
    }

    @Test func equalReadingsMoveNothing() {
        let c = TrafficCounters(upBytes: 7, downBytes: 7, upPackets: 1, downPackets: 1, width: .bits32)
        #expect(c.delta(since: c).isZero)
    }
}
