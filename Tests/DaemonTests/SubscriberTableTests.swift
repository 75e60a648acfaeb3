import Testing
import HAL
@testable import Daemon

struct SubscriberTableTests {
    let alice = SubscriberID.mac(MACAddress("02:00:00:00:00:01")!)
    let bob = SubscriberID.mac(MACAddress("02:00:00:00:00:02")!)
    let second: UInt64 = 1_000_000_000

    func station(_ id: SubscriberID, up: UInt64, down: UInt64, packets: UInt64 = 0, width: CounterWidth = .bits32) -> StationInfo {
        StationInfo(mac: id.macAddress!, counters: TrafficCounters(upBytes: up, downBytes: down, upPackets: packets, width: width))
    }

    @Test func sumsDeltasOverPolls() {
        let table = SubscriberTable()
        table.connected(alice, at: 0)
        table.observe([station(alice, up: 100, down: 1000)], at: 1 * second)
        table.observe([station(alice, up: 150, down: 3000)], at: 2 * second)
        let entry = table.all[0]
        #expect(entry.upBytes == 150 && entry.downBytes == 3000)
        #expect(entry.upRate == 50 && entry.downRate == 2000)
    }

    @Test func countsAcrossA32BitWrap() {
        let table = SubscriberTable()
        table.connected(alice, at: 0)
        table.observe([station(alice, up: 4_294_967_000, down: 10)], at: second)
        table.observe([station(alice, up: 704, down: 20)], at: 2 * second)
        #expect(table.all[0].upBytes == 4_294_967_000 + 296 + 704)
        #expect(table.all[0].downBytes == 20)
    }

    @Test func aSilentResetOn32BitIsNotAWrap() {
        let table = SubscriberTable()
        table.connected(alice, at: 0)
        table.observe([station(alice, up: 3_000_000_000, down: 5, packets: 900)], at: second)
        table.observe([station(alice, up: 1000, down: 5, packets: 4)], at: 2 * second)
        #expect(table.all[0].upBytes == 3_000_001_000)
    }

    @Test func a64BitCounterGoingBackIsAReset() {
        let table = SubscriberTable()
        table.connected(alice, at: 0)
        table.observe([station(alice, up: 5000, down: 5000, width: .bits64)], at: second)
        table.observe([station(alice, up: 100, down: 200, width: .bits64)], at: 2 * second)
        #expect(table.all[0].upBytes == 5100 && table.all[0].downBytes == 5200)
    }

    @Test func reassociationStartsANewSessionFromZero() {
        let table = SubscriberTable()
        table.connected(alice, at: 0)
        table.observe([station(alice, up: 700, down: 800)], at: second)
        table.disconnected(alice, finalCounters: nil, at: 2 * second)
        table.connected(alice, at: 3 * second)
        table.observe([station(alice, up: 10, down: 20)], at: 4 * second)
        let entry = table.all[0]
        #expect(entry.upBytes == 710 && entry.downBytes == 820)
        #expect(entry.sessions == 2)
    }

    @Test func finalCountersOnDisconnectCount() {
        let table = SubscriberTable()
        table.connected(alice, at: 0)
        table.observe([station(alice, up: 100, down: 100)], at: second)
        table.disconnected(alice, finalCounters: TrafficCounters(upBytes: 400, downBytes: 900, width: .bits64), at: 2 * second)
        #expect(table.all[0].upBytes == 400 && table.all[0].downBytes == 900)
        #expect(!table.all[0].connected)
    }

    @Test func stationSeenMidSessionCountsFromAssociation() {
        let table = SubscriberTable()
        var info = station(bob, up: 1234, down: 5678)
        info.connectedSeconds = 30
        table.observe([info], at: 100 * second)
        #expect(table.all[0].upBytes == 1234 && table.all[0].connected)
        #expect(table.all[0].sessionStart == 70 * second)
        #expect(table.connectedCount == 1)
    }

    @Test func stationMissingFromPollHasLeft() {
        let table = SubscriberTable()
        table.observe([station(alice, up: 1, down: 1), station(bob, up: 2, down: 2)], at: second)
        table.observe([station(bob, up: 3, down: 3)], at: 2 * second)
        #expect(table.connectedCount == 1)
        #expect(table.all.first { $0.id == alice }?.connected == false)
    }

    @Test func sourceResetEndsEverySession() {
        let table = SubscriberTable()
        table.observe([station(alice, up: 500, down: 500)], at: second)
        table.sourceReset(scheme: .mac)
        table.observe([station(alice, up: 50, down: 60)], at: 2 * second)
        #expect(table.all[0].upBytes == 550 && table.all[0].downBytes == 560)
        #expect(table.all[0].sessions == 2)
    }
}
