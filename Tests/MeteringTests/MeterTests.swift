#if canImport(Glibc)
import Glibc
#endif
import Testing
import HAL
import Posix
@testable import Metering

struct MeterTests {
    @Test func sessionsAreJournaledWithDeltasAndTotals() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, flush: .seconds(10), now: 0)
        let a = mac(1)
        meter.sessionStarted(a, at: 0)
        meter.observe([reading(a, counters(100, 1000))], scheme: .mac, at: 5 * second)
        #expect(meter.fsyncs == 0, "nothing written before the flush interval")
        meter.observe([reading(a, counters(300, 5000))], scheme: .mac, at: 10 * second)
        #expect(meter.fsyncs == 2, "segment creation and one group commit")
        meter.observe([reading(a, counters(350, 5000))], scheme: .mac, at: 12 * second)
        meter.sessionEnded(a, finalCounters: nil, at: 13 * second)
        let totals = try journalTotals(dir.path)
        #expect(totals["mac:02:00:00:00:00:01"]! == (350, 5000))
        let report = try JournalVerifier.verify(directory: dir.path, expectedStation: stationKey.publicKey)
        #expect(report.isIntact && report.unconfirmedTail == 0)
    }

    @Test func finalCountersCountTheLastBytes() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, now: 0)
        let a = mac(1)
        meter.sessionStarted(a, at: 0)
        meter.observe([reading(a, counters(100, 100))], scheme: .mac, at: second)
        meter.sessionEnded(a, finalCounters: counters(180, 400), at: 2 * second)
        #expect(try journalTotals(dir.path)["mac:02:00:00:00:00:01"]! == (180, 400))
    }

    @Test func finalCountersThatComeAfterTheDisconnectStillCount() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, flush: .seconds(60), now: 0)
        let a = mac(1)
        meter.sessionStarted(a, at: 0)
        meter.observe([reading(a, counters(4_294_000_000, 100))], scheme: .mac, at: second)
        meter.sessionEnding(a, at: 2 * second)
        // Gone from the poll while waiting: not a second close.
        meter.observe([], scheme: .mac, at: 3 * second)
        meter.observe([], scheme: .mac, at: 4 * second)
        // The station is back already, in a new session, before the old one's Stop arrives.
        meter.sessionStarted(a, at: 4 * second)
        meter.observe([reading(a, counters(10, 10))], scheme: .mac, at: 4 * second)
        // RADIUS counts 64-bit: 2^32 + 1000 up, i.e. the 32-bit counter wrapped once.
        meter.sessionEnded(a, finalCounters: TrafficCounters(upBytes: (1 << 32) + 1000, downBytes: 150, width: .bits64), at: 5 * second)
        meter.flush(at: 6 * second)
        #expect(try journalTotals(dir.path)["mac:02:00:00:00:00:01"]! == ((1 << 32) + 1000 + 10, 160))
        #expect(try JournalVerifier.verify(directory: dir.path).isIntact)
    }

    @Test func aPollTakenBeforeTheStopArrivedIsNotCountedAgain() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, flush: .seconds(60), now: 0)
        let a = mac(1)
        meter.sessionStarted(a, at: 0)
        meter.observe([reading(a, counters(100, 100))], scheme: .mac, taken: second, at: second)
        // The Stop comes first; a poll that was under way before it lands after it.
        meter.sessionEnded(a, finalCounters: TrafficCounters(upBytes: 500, downBytes: 700, width: .bits64), at: 3 * second)
        meter.observe([reading(a, counters(450, 650))], scheme: .mac, taken: 2 * second, at: 4 * second)
        // The station comes back; another stale poll must not feed the new session.
        meter.sessionStarted(a, at: 5 * second)
        meter.observe([reading(a, counters(450, 650))], scheme: .mac, taken: 4 * second, at: 6 * second)
        meter.observe([reading(a, counters(20, 30))], scheme: .mac, taken: 7 * second, at: 7 * second)
        meter.flush(at: 8 * second)
        #expect(try journalTotals(dir.path)["mac:02:00:00:00:00:01"]! == (520, 730))
    }

    @Test func aSessionSeenOnlyInItsFinalCountersIsJournaledWhole() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, flush: .seconds(60), now: 0)
        let a = mac(1), b = mac(2)
        // Right after start, with no journal yet, a lone Stop cannot repeat a journaled session.
        meter.sessionEnded(b, finalCounters: TrafficCounters(upBytes: 5, downBytes: 5, width: .bits64), sessionSeconds: 4, at: 5 * second)
        // Later, a session that came and went unseen is counted from its final counters.
        meter.sessionEnded(a, finalCounters: TrafficCounters(upBytes: (1 << 32) + 7, downBytes: 900, width: .bits64), sessionSeconds: 10, at: 60 * second)
        // Its retransmission is not counted again.
        meter.sessionEnded(a, finalCounters: TrafficCounters(upBytes: (1 << 32) + 7, downBytes: 900, width: .bits64), sessionSeconds: 13, at: 63 * second)
        let totals = try journalTotals(dir.path)
        #expect(totals["mac:02:00:00:00:00:02"]! == (5, 5))
        #expect(totals["mac:02:00:00:00:00:01"]! == ((1 << 32) + 7, 900), "the whole session, gigawords included")
        // After a reboot the journal's monotonic times say nothing: a lone Stop in the first
        // 20 s may repeat one journaled before, and is not counted.
        let (rebooted, _) = try openMeter(dir.path, now: 0, sameBoot: false)
        rebooted.sessionEnded(a, finalCounters: TrafficCounters(upBytes: 1, downBytes: 1, width: .bits64), sessionSeconds: 200, at: 5 * second)
        rebooted.flush(at: 6 * second)
        #expect(try journalTotals(dir.path)["mac:02:00:00:00:00:01"]! == ((1 << 32) + 7, 900))
    }

    @Test func aStopThatDoesNotCarryOnFromTheOpenSessionIsAnEarlierOnes() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, flush: .seconds(60), now: 0)
        let a = mac(1)
        meter.observe([reading(a, counters(5_000, 9_000), connected: 1)], scheme: .mac, at: 10 * second)
        meter.sessionEnded(a, finalCounters: counters(6_000, 9_500), at: 11 * second)
        // Back at 20 s: a 1 s session nobody polled, then the one a poll finds.
        meter.observe([reading(a, counters(14_512, 44_649), connected: 3)], scheme: .mac, at: 25 * second)
        // The first one's Stop arrives late: 143 bytes up are not a reset of the open session.
        meter.sessionEnded(a, finalCounters: TrafficCounters(upBytes: 143, downBytes: 441, width: .bits64), sessionSeconds: 5, at: 25 * second)
        meter.observe([reading(a, counters(24_508, 75_403), connected: 4)], scheme: .mac, at: 26 * second)
        meter.flush(at: 27 * second)
        #expect(try journalTotals(dir.path)["mac:02:00:00:00:00:01"]! == (6_000 + 143 + 24_508, 9_500 + 441 + 75_403))
        #expect(meter.openSessions.count == 1, "the open session goes on")
    }

    @Test func finalCountersWithGigawordsAreExactAcrossAnyNumberOfWraps() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, flush: .seconds(60), now: 0)
        let a = mac(1)
        meter.sessionStarted(a, at: 0)
        meter.observe([reading(a, counters(1_680_510_272, 1_000))], scheme: .mac, at: second)
        // A burst of 2.6 GB before the Stop: the 32-bit counter wrapped from its lower half,
        // which a poll could not tell from a reset; the Stop's gigawords can.
        let final = TrafficCounters(upBytes: (1 << 32) + 135_881, downBytes: 5_000, upPackets: 19_600_000, downPackets: 40, width: .bits64)
        meter.sessionEnded(a, finalCounters: final, at: 2 * second)
        #expect(try journalTotals(dir.path)["mac:02:00:00:00:00:01"]! == ((1 << 32) + 135_881, 5_000))
    }

    @Test func afterACrashFinalCountersAreTakenOnlyForSessionsTheJournalCannotHold() throws {
        let dir = TemporaryDirectory()
        let a = mac(1), b = mac(2), c = mac(3)
        do {
            let (meter, _) = try openMeter(dir.path, flush: .seconds(1), now: 0)
            meter.observe([reading(a, counters(100, 100), connected: 2), reading(b, counters(50, 50), connected: 2),
                           reading(c, counters(7, 7), connected: 2)], scheme: .mac, at: 2 * second)
            meter.sessionEnded(a, finalCounters: counters(120, 130), at: 3 * second)
        }
        // Restarted at 10 s, within the startup grace.
        let (meter, _) = try openMeter(dir.path, now: 10 * second)
        // a's Stop retransmitted (its session began 1 s after the start): journaled already.
        meter.sessionEnded(a, finalCounters: counters(120, 130), sessionSeconds: 9, at: 10 * second)
        // a came back while qlinkd was down and left again: began 4 s ago, after its last reading.
        meter.sessionEnded(a, finalCounters: counters(40, 45), sessionSeconds: 4, at: 10 * second)
        // b's recovered session ended while qlinkd was down; these are its final counters.
        meter.sessionEnded(b, finalCounters: counters(90, 95), sessionSeconds: 10, at: 10 * second)
        // c's recovered session ended while down too, and a later one (began 3 s ago) as well.
        meter.sessionEnded(c, finalCounters: counters(30, 31), sessionSeconds: 3, at: 10 * second)
        meter.flush(at: 11 * second)
        let totals = try journalTotals(dir.path)
        #expect(totals["mac:02:00:00:00:00:01"]! == (160, 175), "120 before the crash, 40 in the unseen session")
        #expect(totals["mac:02:00:00:00:00:02"]! == (90, 95), "the recovered session closed by its own final counters")
        #expect(totals["mac:02:00:00:00:00:03"]! == (37, 38), "7 durable before, then the later session whole")
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.isIntact)
        #expect(report.notes.contains { $0.contains("mac:02:00:00:00:00:03") && $0.contains("ended while qlinkd was down") })
    }

    @Test func aCrashLosesNothingOfAConnectedSubscriber() throws {
        let dir = TemporaryDirectory()
        let a = mac(1), b = mac(2)
        do {
            let (meter, _) = try openMeter(dir.path, flush: .seconds(5), now: 0)
            meter.observe([reading(a, counters(1000, 1000), connected: 0), reading(b, counters(10, 10), connected: 0)], scheme: .mac, at: 5 * second)
            // Read but never flushed: lost with the process.
            meter.observe([reading(a, counters(1500, 1900), connected: 6), reading(b, counters(20, 20), connected: 6)], scheme: .mac, at: 6 * second)
        }
        let (meter, recovered) = try openMeter(dir.path, flush: .seconds(5), now: 20 * second)
        #expect(recovered.openSessions.count == 2)
        // A backend announces both on reconnecting; that alone must not restart them from zero.
        meter.sessionStarted(a, at: 21 * second)
        meter.sessionStarted(b, at: 21 * second)
        // a is still there (associated 25 s ago); b reassociated while the daemon was down.
        meter.observe([reading(a, counters(4000, 8000), connected: 25), reading(b, counters(7, 7), connected: 3)], scheme: .mac, at: 25 * second)
        meter.flush(at: 25 * second)
        let totals = try journalTotals(dir.path)
        #expect(totals["mac:02:00:00:00:00:01"]! == (4000, 8000))
        #expect(totals["mac:02:00:00:00:00:02"]! == (17, 17), "10 before, 7 in the new session; its last 10 before the crash are lost")
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.isIntact)
        #expect(report.notes.contains { $0.contains("mac:02:00:00:00:00:02") && $0.contains("lost") })
    }

    @Test func aSubscriberWhoLeftWhileDownIsClosedAndListed() throws {
        let dir = TemporaryDirectory()
        let a = mac(1)
        do {
            let (meter, _) = try openMeter(dir.path, flush: .seconds(1), now: 0)
            meter.observe([reading(a, counters(500, 500), connected: 1)], scheme: .mac, at: 2 * second)
        }
        let (meter, _) = try openMeter(dir.path, now: 30 * second)
        meter.observe([], scheme: .mac, at: 30 * second)
        #expect(meter.openSessions.isEmpty)
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.notes.count == 1 && report.notes[0].contains("ended while qlinkd was down"))
    }

    @Test func aStationMissingFromOnePollIsNotCountedTwice() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, flush: .seconds(1), now: 0)
        let a = mac(1)
        meter.observe([reading(a, counters(100, 100), connected: 1)], scheme: .mac, at: second)
        meter.observe([], scheme: .mac, at: 2 * second)
        meter.observe([], scheme: .mac, at: 3 * second)
        meter.observe([reading(a, counters(150, 180), connected: 4)], scheme: .mac, at: 4 * second)
        meter.flush(at: 5 * second)
        #expect(try journalTotals(dir.path)["mac:02:00:00:00:00:01"]! == (150, 180))
    }

    /// A real full disk: the journal lives on a 48 KiB tmpfs (tests run as root, as CI does).
    @Test func aFullDiskStopsLoudlyAndResumesWithoutLoss() throws {
        let dir = TemporaryDirectory()
        #expect(system("mount -t tmpfs -o size=48k qlink-test '\(dir.path)'") == 0, "mounting a small tmpfs needs root")
        defer { _ = system("umount '\(dir.path)'") }
        let (meter, _) = try openMeter(dir.path, flush: .seconds(1), now: 0)
        var up: UInt64 = 0
        var step: UInt64 = 0
        while meter.journalState == .ok && step < 2000 {
            step += 1
            up += 1000
            meter.observe((1...8).map { reading(mac(UInt8($0)), counters(up, up * 2)) }, scheme: .mac, at: step * second)
        }
        #expect(meter.journalState != .ok, "the disk never filled")
        // Readings go on while the journal is stopped; none may be lost.
        for _ in 0..<5 {
            step += 1
            up += 1000
            meter.observe((1...8).map { reading(mac(UInt8($0)), counters(up, up * 2)) }, scheme: .mac, at: step * second)
        }
        #expect(meter.journalState != .ok)
        #expect(try JournalVerifier.verify(directory: dir.path).isIntact, "a failed commit leaves nothing torn")
        #expect(system("mount -o remount,size=4m '\(dir.path)'") == 0)
        step += 1
        meter.observe((1...8).map { reading(mac(UInt8($0)), counters(up, up * 2)) }, scheme: .mac, at: step * second)
        #expect(meter.journalState == .ok)
        let totals = try journalTotals(dir.path)
        for n in 1...8 { #expect(totals[mac(UInt8(n)).description]! == (up, up * 2)) }
        #expect(try JournalVerifier.verify(directory: dir.path).isIntact)
    }

    @Test func wrapsAreJudgedPollByPollNotOverAFlush() throws {
        let dir = TemporaryDirectory()
        let (meter, _) = try openMeter(dir.path, flush: .seconds(60), now: 0)
        let a = mac(1)
        meter.sessionStarted(a, at: 0)
        var expected: UInt64 = 0
        var counter: UInt64 = 0
        for step in 1...30 {
            let moved: UInt64 = 1_500_000_000
            expected += moved
            counter = (counter + moved) & 0xFFFF_FFFF
            meter.observe([reading(a, TrafficCounters(upBytes: counter, downBytes: 0, upPackets: expected / 1500 & 0xFFFF_FFFF, downPackets: 0, width: .bits32))],
                          scheme: .mac, at: UInt64(step) * second)
        }
        meter.flush(at: 31 * second)
        #expect(try journalTotals(dir.path)["mac:02:00:00:00:00:01"]!.up == expected)
    }
}
