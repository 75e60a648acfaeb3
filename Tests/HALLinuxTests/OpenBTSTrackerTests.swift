import HAL
import Posix
#if canImport(Glibc)
import Glibc
#endif
@testable import HALLinux
import Testing

/// Attach state, cumulative counters and policies derived from `gprs list` readings.
@Suite("OpenBTS attach tracker")
struct OpenBTSTrackerTests {
    static let alice = "001010000000001"
    static let bob = "001010000000002"
    static let carol = "001010000000003"

    static func ms(_ number: Int, _ imsi: String, up: UInt64, down: UInt64, state: String = "GmmRegisteredNormal", age: UInt64 = 100) -> OpenBTSMSRecord {
        OpenBTSMSRecord(id: "MS#\(number)", upBytes: up, downBytes: down,
                        context: OpenBTSGMMContext(imsi: imsi, state: state, ageSeconds: age, ipAddress: "192.168.99.\(number + 1)"))
    }

    static func id(_ imsi: String) -> SubscriberID { SubscriberID.imsi(imsi)! }
    static func bytes(_ up: UInt64, _ down: UInt64) -> TrafficCounters { TrafficCounters(upBytes: up, downBytes: down, width: .bits64) }

    @Test func sumsEveryMSRecordOfAnIMSI() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        let outcome = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000), Self.ms(2, Self.alice, up: 5, down: 50),
                                       Self.ms(3, Self.bob, up: 1, down: 2)], capacity: nil, blocked: [])
        #expect(outcome.events == [.subscriberAttached(Self.id(Self.alice)), .subscriberAttached(Self.id(Self.bob))])
        #expect(outcome.subscribers.map(\.counters) == [Self.bytes(105, 1050), Self.bytes(1, 2)])
        #expect(outcome.subscribers[0].ipAddress == "192.168.99.2")
        #expect(outcome.subscribers[0].attachedSeconds == 100)
        #expect(outcome.detach.isEmpty)
    }

    @Test func countersNeverGoBackWhenARecordGoesAway() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000), Self.ms(2, Self.alice, up: 5, down: 50)], capacity: nil, blocked: [])
        // MS#1 is dropped, MS#2 moves on, a new MS#4 appears.
        let later = tracker.observe([Self.ms(2, Self.alice, up: 7, down: 70), Self.ms(4, Self.alice, up: 3, down: 30)], capacity: nil, blocked: [])
        #expect(later.events.isEmpty)
        #expect(later.subscribers.first?.counters == Self.bytes(110, 1100))
        // MS#2 going backwards is a new record (an MS number reused after a restart).
        let reused = tracker.observe([Self.ms(2, Self.alice, up: 1, down: 1), Self.ms(4, Self.alice, up: 3, down: 30)], capacity: nil, blocked: [])
        #expect(reused.subscribers.first?.counters == Self.bytes(111, 1101))
    }

    @Test func aThirtyTwoBitRecordThatWrapsKeepsCounting() {
        var tracker = OpenBTSAttachTracker(width: .bits32)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 4_294_967_000, down: 10)], capacity: nil, blocked: [])
        let wrapped = tracker.observe([Self.ms(1, Self.alice, up: 704, down: 10)], capacity: nil, blocked: [])
        #expect(wrapped.subscribers.first?.counters == Self.bytes(4_294_967_000 + 1000, 10))
    }

    @Test func detachIsReportedWithTheLastCounters() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000), Self.ms(3, Self.bob, up: 1, down: 2)], capacity: nil, blocked: [])
        let outcome = tracker.observe([Self.ms(3, Self.bob, up: 1, down: 2)], capacity: nil, blocked: [])
        #expect(outcome.events == [.subscriberDetached(Self.id(Self.alice), finalCounters: Self.bytes(100, 1000))])
        #expect(outcome.subscribers.map(\.id) == [Self.id(Self.bob)])
    }

    @Test func aDetachedRecordStillListedGivesTheFinalBytes() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000)], capacity: nil, blocked: [])
        // Alice moved 40 more bytes, then detached: OpenBTS keeps her record, deregistered.
        let left = tracker.observe([Self.ms(1, Self.alice, up: 110, down: 1030, state: "GmmDeregistered")], capacity: nil, blocked: [])
        #expect(left.events == [.subscriberDetached(Self.id(Self.alice), finalCounters: Self.bytes(110, 1030))])
        #expect(tracker.retired == ["MS#1": Self.bytes(110, 1030)])
        #expect(left.free == [Self.alice], "her context is freed once read")
    }

    @Test func anIMSIThatAttachesAgainNeverCountsItsOldRecordTwice() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000)], capacity: nil, blocked: [])
        _ = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000, state: "GmmDeregistered")], capacity: nil, blocked: [])
        // Back on a new record; the old one is listed under her new, registered context.
        let back = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000), Self.ms(5, Self.alice, up: 7, down: 70)],
                                   capacity: nil, blocked: [])
        #expect(back.events == [.subscriberAttached(Self.id(Self.alice))])
        #expect(back.subscribers.first?.counters == Self.bytes(7, 70))
        // Forgotten by OpenBTS, the old record is forgotten here too.
        _ = tracker.observe([Self.ms(5, Self.alice, up: 8, down: 80)], capacity: nil, blocked: [])
        #expect(tracker.retired.isEmpty)
    }

    @Test func aYoungerContextEndsTheSessionWithItsOwnRecordsAndStartsANewOne() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000, age: 50)], capacity: nil, blocked: [])
        // Alice detached and attached again between two readings: her old record (20 more
        // bytes) is listed under her new context, age 3, with a new record.
        let again = tracker.observe([Self.ms(1, Self.alice, up: 110, down: 1010, age: 3), Self.ms(6, Self.alice, up: 5, down: 6, age: 3)],
                                    capacity: nil, blocked: [])
        #expect(again.events == [.subscriberDetached(Self.id(Self.alice), finalCounters: Self.bytes(110, 1010)),
                                 .subscriberAttached(Self.id(Self.alice))])
        #expect(again.subscribers.map(\.counters) == [Self.bytes(5, 6)])
    }

    @Test func theStateSurvivesEncodingSoARestartedDaemonCountsOnInTheSameTerms() throws {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 100, down: 1000, age: 50)], capacity: nil, blocked: [])
        let process = OpenBTSTrackerFile.Process(release: "5.0", uptime: OpenBTSUptime(parsing: "uptime 90 seconds\n")!, now: 100_000_000_000, boot: "b")
        let dir = "/tmp/qlink-tracker-\(getpid())"
        try FileSystem.createDirectory(dir)
        defer { FileSystem.remove(dir + "/state.json"); FileSystem.remove(dir) }
        try OpenBTSTrackerFile(process: process, tracker: tracker).save(to: dir + "/state.json")
        let loaded = try #require(OpenBTSTrackerFile.load(dir + "/state.json"))
        let later = OpenBTSTrackerFile.Process(release: "5.0", uptime: OpenBTSUptime(parsing: "uptime 100 seconds\n")!, now: 110_000_000_000, boot: "b")
        #expect(loaded.process.isSame(as: later))
        #expect(!loaded.process.isSame(as: OpenBTSTrackerFile.Process(release: "5.0", uptime: OpenBTSUptime(parsing: "uptime 5 seconds\n")!,
                                                                       now: 110_000_000_000, boot: "b")), "a restarted OpenBTS")
        var resumed = loaded.tracker
        let outcome = resumed.observe([Self.ms(1, Self.alice, up: 130, down: 1100, age: 60)], capacity: nil, blocked: [])
        #expect(outcome.events.isEmpty && outcome.subscribers.map(\.counters) == [Self.bytes(130, 1100)])
    }

    @Test func aSuspendedContextIsStillAttached() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 1, down: 1)], capacity: nil, blocked: [])
        let suspended = tracker.observe([Self.ms(1, Self.alice, up: 2, down: 2, state: "GmmRegisteredSuspsended")], capacity: nil, blocked: [])
        #expect(suspended.events.isEmpty && suspended.subscribers.map(\.counters) == [Self.bytes(2, 2)])
    }

    @Test func onlyGmmRegisteredNormalCountsAsAttached() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        let outcome = tracker.observe([Self.ms(1, Self.alice, up: 1, down: 1, state: "GmmRegistrationPending"),
                                       OpenBTSMSRecord(id: "MS#2", upBytes: 9, downBytes: 9, context: nil)], capacity: nil, blocked: [])
        #expect(outcome.subscribers.isEmpty)
        #expect(outcome.events.allSatisfy { if case .subscriberAttached = $0 { false } else { true } })
    }

    @Test func aWholeSessionBetweenTwoReadingsIsReportedByItsFinalCounters() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.bob, up: 1, down: 1)], capacity: nil, blocked: [])
        // Alice attached, moved bytes on two records and detached between the readings.
        let records = [Self.ms(1, Self.bob, up: 2, down: 2), Self.ms(4, Self.alice, up: 30, down: 300, state: "GmmDeregistered", age: 7),
                       Self.ms(5, Self.alice, up: 4, down: 40, state: "GmmDeregistered", age: 7)]
        let outcome = tracker.observe(records, capacity: nil, blocked: [])
        #expect(outcome.events == [.finalCounters(Self.id(Self.alice), Self.bytes(34, 340), sessionSeconds: 7)])
        #expect(outcome.free == [Self.alice])
        #expect(tracker.observe(records, capacity: nil, blocked: []).events.isEmpty, "reported once")
    }

    @Test func theNewestBeyondCapacityAreRefusedOncePerEpisode() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        let readings = [Self.ms(1, Self.alice, up: 1, down: 1, age: 300), Self.ms(2, Self.bob, up: 1, down: 1, age: 200),
                        Self.ms(3, Self.carol, up: 1, down: 1, age: 5)]
        let first = tracker.observe(readings, capacity: 2, blocked: [])
        let full = OpenBTSAttachTracker.fullReason(2)
        #expect(full == "cell full (capacity 2)")
        #expect(first.events == [.attachRefused(Self.id(Self.carol), reason: full),
                                 .subscriberAttached(Self.id(Self.alice)), .subscriberAttached(Self.id(Self.bob))])
        #expect(first.detach == [Self.carol])
        // Still listed (the detach has not taken yet): detached again, reported once.
        let again = tracker.observe(readings, capacity: 2, blocked: [])
        #expect(again.events.isEmpty && again.detach == [Self.carol])
        // Bob leaves: carol, still trying, gets the place.
        let freed = tracker.observe([readings[0], readings[2]], capacity: 2, blocked: [])
        #expect(freed.events == [.subscriberDetached(Self.id(Self.bob), finalCounters: Self.bytes(1, 1)), .subscriberAttached(Self.id(Self.carol))])
        #expect(freed.detach.isEmpty)
    }

    @Test func aLowerCapacityDetachesTheLastAdmitted() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 1, down: 1, age: 300)], capacity: nil, blocked: [])
        let readings = [Self.ms(1, Self.alice, up: 2, down: 2, age: 302), Self.ms(2, Self.bob, up: 1, down: 1, age: 900)]
        _ = tracker.observe(readings, capacity: nil, blocked: [])
        let outcome = tracker.observe(readings, capacity: 1, blocked: [])
        // Bob's context is older, but alice was admitted first.
        #expect(outcome.events == [.subscriberDetached(Self.id(Self.bob), finalCounters: Self.bytes(1, 1)),
                                   .attachRefused(Self.id(Self.bob), reason: "cell full (capacity 1)")])
        #expect(outcome.detach == [Self.bob])
        #expect(outcome.subscribers.map(\.id) == [Self.id(Self.alice)])
    }

    @Test func blockedSubscribersAreRefused() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 1, down: 1)], capacity: nil, blocked: [])
        let outcome = tracker.observe([Self.ms(1, Self.alice, up: 4, down: 4)], capacity: nil, blocked: [Self.alice])
        #expect(outcome.events == [.subscriberDetached(Self.id(Self.alice), finalCounters: Self.bytes(4, 4)),
                                   .attachRefused(Self.id(Self.alice), reason: "blocked")])
        #expect(outcome.detach == [Self.alice])
        let unblocked = tracker.observe([Self.ms(5, Self.alice, up: 1, down: 1)], capacity: nil, blocked: [])
        #expect(unblocked.events == [.subscriberAttached(Self.id(Self.alice))])
        #expect(unblocked.subscribers.first?.counters == Self.bytes(1, 1))
    }

    @Test func endAllReportsEveryoneGone() {
        var tracker = OpenBTSAttachTracker(width: .bits64)
        _ = tracker.observe([Self.ms(1, Self.alice, up: 1, down: 2), Self.ms(2, Self.bob, up: 3, down: 4)], capacity: nil, blocked: [])
        #expect(tracker.endAll() == [.subscriberDetached(Self.id(Self.alice), finalCounters: Self.bytes(1, 2)),
                                     .subscriberDetached(Self.id(Self.bob), finalCounters: Self.bytes(3, 4))])
        #expect(tracker.subscribers.isEmpty)
        #expect(tracker.observe([Self.ms(1, Self.alice, up: 1, down: 2)], capacity: nil, blocked: []).events == [.subscriberAttached(Self.id(Self.alice))])
    }
}
