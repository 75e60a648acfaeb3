import Testing
import Crypto
import Posix
@testable import Metering

/// 2026-11-21T06:00:00Z.
let queryT0: Int64 = 1_795_240_800_000
let queryA = "mac:02:00:00:00:00:01", queryB = "mac:02:00:00:00:00:02", queryC = "imsi:001010123456789"

/// A small journal with three subscribers over two hours, written as the daemon writes it.
func writeQueryJournal(_ dir: String, segmentLimit: Int = 1 << 20) throws {
    let writer = try JournalWriter(directory: dir, key: stationKey, segmentLimit: segmentLimit, boot: "b", lastSeq: 0,
                                   lastHash: JournalRecord.genesisHash, segmentPath: nil)
    func usage(_ sub: String, _ session: UInt64, _ up: UInt64, _ down: UInt64) -> JournalDraft {
        var draft = JournalDraft(.usage, subscriber: sub, session: session)
        draft.up = up
        draft.down = down
        return draft
    }
    func close(_ sub: String, _ session: UInt64, _ reason: String) -> JournalDraft {
        JournalDraft(.close, subscriber: sub, session: session, reason: reason)
    }
    let batches: [(Int64, Bool, [JournalDraft])] = [
        (queryT0, true, [JournalDraft(.open, subscriber: queryA, session: 1), JournalDraft(.open, subscriber: queryB, session: 2),
                         usage(queryA, 1, 100, 1000)]),
        (queryT0 + 300_000, true, [usage(queryA, 1, 50, 500), usage(queryB, 2, 7, 70)]),
        (queryT0 + 3_600_000, true, [close(queryA, 1, "disconnected"),
                                     JournalDraft(.note, reason: "\(queryB) session 2: ended while qlinkd was down; its bytes after the last durable reading are lost"),
                                     close(queryB, 2, "left while qlinkd was down; bytes after its last durable reading are not known")]),
        (queryT0 + 7_200_000, false, [JournalDraft(.open, subscriber: queryA, session: 3), usage(queryA, 3, 1, 2),
                                      JournalDraft(.open, subscriber: queryC, session: 4), usage(queryC, 4, 5, 6)]),
    ]
    for (index, (wall, trusted, drafts)) in batches.enumerated() {
        try writer.commit(drafts, at: JournalStamp(wall: wall, mono: UInt64(index), clockTrusted: trusted), nextSession: 5) { [] }
    }
}

struct JournalQueryTests {
    func summary(_ dir: String, _ filter: JournalFilter = JournalFilter()) throws -> UsageSummary {
        var summary = UsageSummary()
        for entry in try JournalQuery(directory: dir).read(filter).entries { summary.add(entry.record) }
        return summary
    }

    @Test func everyRecordInOrderWithItsPositionAndLine() throws {
        let dir = TemporaryDirectory()
        try writeQueryJournal(dir.path, segmentLimit: 600)
        let (entries, damage) = try JournalQuery(directory: dir.path).read()
        #expect(damage.isEmpty)
        #expect(try JournalFiles.segments(in: dir.path).count > 1)
        #expect(entries.map(\.record.seq) == Array(1...UInt64(entries.count)))
        #expect(entries.first?.position.description == "journal-0000000000000001.jsonl:1")
        for entry in entries { #expect(try JournalRecord(line: Array(entry.line.utf8)[...]) == entry.record) }
    }

    @Test func summaryAddsUsageAndCountsSessions() throws {
        let dir = TemporaryDirectory()
        try writeQueryJournal(dir.path)
        let all = try summary(dir.path)
        // Sorted by id: imsi: before mac:.
        #expect(all.subscribers.map { "\($0.subscriber) \($0.upBytes) \($0.downBytes) \($0.sessions)" } == [
            "\(queryC) 5 6 1", "\(queryA) 151 1502 2", "\(queryB) 7 70 1",
        ])
        #expect(all.upBytes == 163 && all.downBytes == 1578 && all.sessions == 4)
        // The note and the close say the same loss: it is listed once.
        #expect(all.lostBytes.count == 1)
        #expect(all.lostBytes.first?.hasPrefix("seq ") == true && all.lostBytes.first?.contains("\(queryB) session 2") == true)
    }

    @Test func filtersBySubscriberTimeAndKind() throws {
        let dir = TemporaryDirectory()
        try writeQueryJournal(dir.path)
        let query = JournalQuery(directory: dir.path)
        let b = try query.read(JournalFilter(subscriber: JournalFilter.subscriberID("02:00:00:00:00:02")))
        #expect(b.entries.map(\.record.kind) == [.open, .usage, .note, .close])
        let early = try summary(dir.path, JournalFilter(until: queryT0 + 300_000))
        #expect(early.subscribers.map(\.upBytes) == [100, 0])
        let later = try summary(dir.path, JournalFilter(since: queryT0 + 300_000, until: queryT0 + 3_600_000))
        #expect(later.subscribers.map(\.upBytes) == [50, 7])
        let usage = try query.read(JournalFilter(kinds: [.usage])).entries
        #expect(usage.count == 5 && usage.allSatisfy { $0.record.kind == .usage })
        #expect(try query.read(JournalFilter(kinds: [.checkpoint])).entries.count == 4)
    }

    @Test func subscriberIDsAreCanonical() {
        #expect(JournalFilter.subscriberID("MAC:02:00:00:00:00:AB") == nil)
        #expect(JournalFilter.subscriberID("mac:02:00:00:00:00:AB") == "mac:02:00:00:00:00:ab")
        #expect(JournalFilter.subscriberID("02:00:00:00:00:AB") == "mac:02:00:00:00:00:ab")
        #expect(JournalFilter.subscriberID("001010123456789") == queryC)
        #expect(JournalFilter.subscriberID("imsi:001010123456789") == queryC)
        #expect(JournalFilter.subscriberID("bob") == nil)
        #expect(JournalFilter.kinds("usage,open") == [.usage, .open])
        #expect(JournalFilter.kinds("all")?.count == 6)
        #expect(JournalFilter.kinds("usage,bogus") == nil)
    }

    @Test func timesParseAsISOAndDatesAndRelative() {
        let now = queryT0
        #expect(JournalTime.parse("2026-11-21T06:00:00Z", now: 0) == queryT0)
        #expect(JournalTime.parse("2026-11-21t06:00z", now: 0) == queryT0)
        #expect(JournalTime.parse("2026-11-21 06:00:00", now: 0) == queryT0)
        #expect(JournalTime.parse("2026-11-21T08:00:00+02:00", now: 0) == queryT0)
        #expect(JournalTime.parse("2026-11-21T01:30:00.250-0430", now: 0) == queryT0 + 250)
        #expect(JournalTime.parse("2026-11-21T06:00:00.1Z", now: 0) == queryT0 + 100)
        #expect(JournalTime.parse("2026-11-21", now: 0) == queryT0 - 6 * 3_600_000)
        #expect(JournalTime.parse("2026-11-21", now: 0, endOfDay: true) == 1_795_305_600_000)
        #expect(JournalTime.parse("2000-02-29", now: 0) == 951_782_400_000)
        #expect(JournalTime.parse("-2h", now: now) == now - 7_200_000)
        #expect(JournalTime.parse("-30m", now: now) == now - 1_800_000)
        #expect(JournalTime.parse("-1h30m", now: now) == now - 5_400_000)
        #expect(JournalTime.parse("-7d", now: now) == now - 7 * 86_400_000)
        #expect(JournalTime.parse("now", now: now) == now)
        for bad in ["", "yesterday", "-2x", "-h", "-0m", "2026-02-29", "2026-13-01", "2026-11-21T24:00Z", "2026-11-21T06:60Z",
                    "2026-11-21T06:00:00+25:00", "2026-11-21T06:00:00 UTC", "2026-11-21T06", "2026/11/21"] {
            #expect(JournalTime.parse(bad, now: now) == nil, "\(bad)")
        }
        #expect(JournalTime.relative("5m") == 300_000)
        #expect(JournalTime.relative("5") == nil)
    }

    @Test func timesPrintInUTC() {
        #expect(JournalTime.iso(queryT0 + 250) == "2026-11-21T06:00:00.250Z")
        #expect(JournalTime.readable(queryT0) == "2026-11-21 06:00:00")
        #expect(JournalTime.iso(0) == "1970-01-01T00:00:00.000Z")
        #expect(JournalTime.iso(-500) == "1969-12-31T23:59:59.500Z")
        #expect(JournalTime.iso(951_782_400_000 - 1) == "2000-02-28T23:59:59.999Z")
        var ms: Int64 = -5_000_000_000_000
        while ms < 5_000_000_000_000 {
            #expect(JournalTime.parse(JournalTime.iso(ms), now: 0) == ms)
            ms += 7_777_777_777
        }
    }

    @Test func damagedLinesAreReportedAndTheRestIsRead() throws {
        let dir = TemporaryDirectory()
        try writeQueryJournal(dir.path)
        let segment = try JournalFiles.segments(in: dir.path)[0]
        var lines = String(decoding: try FileSystem.readFile(segment), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines[3].contains("\"up\":100,"))
        lines[3] = lines[3].replacingOccurrences(of: "\"up\":100,", with: "\"up\":900,")
        try FileSystem.writeDurably(segment, Array((lines.joined(separator: "\n") + "\n{\"seq\":99,\"ty").utf8))
        let (entries, damage) = try JournalQuery(directory: dir.path).read()
        #expect(entries.count == lines.count - 1)
        #expect(damage.count == 2)
        #expect(damage[0].position == JournalPosition(segment: "journal-0000000000000001.jsonl", line: 4))
        #expect(damage[0].expectedSeq == 4 && !damage[0].isTornTail)
        #expect(damage[0].description == "journal-0000000000000001.jsonl:4: seq 4?: edited: its hash does not match its content")
        #expect(damage[1].isTornTail && damage[1].position.line == lines.count + 1)
        #expect(try summary(dir.path).subscribers.first { $0.subscriber == queryA }?.upBytes == 51)
    }

    @Test func aTornLineBeforeTheLastSegmentIsDamage() throws {
        let dir = TemporaryDirectory()
        try writeQueryJournal(dir.path, segmentLimit: 600)
        let first = try JournalFiles.segments(in: dir.path)[0]
        try FileSystem.writeDurably(first, try FileSystem.readFile(first) + Array("{\"seq\"".utf8))
        let damage = try JournalQuery(directory: dir.path).read().damage
        #expect(damage.count == 1 && !damage[0].isTornTail && damage[0].problem.contains("inside the journal"))
    }

    @Test func aMissingDirectoryIsAnError() {
        #expect(throws: SystemError.self) { try JournalQuery(directory: "/nonexistent/metering").read() }
    }
}

struct UsageChartTests {
    @Test func bytesAreSummedPerBucket() throws {
        let dir = TemporaryDirectory()
        try writeQueryJournal(dir.path)
        var chart = UsageChart(bucketMilliseconds: 300_000)
        for entry in try JournalQuery(directory: dir.path).read(JournalFilter(kinds: [.usage])).entries { chart.add(entry.record) }
        let (length, buckets) = chart.buckets()
        #expect(length == 300_000)
        #expect(buckets.count == 25 && buckets.first?.start == queryT0)
        #expect(buckets[0] == UsageChart.Bucket(start: queryT0, up: 100, down: 1000))
        #expect(buckets[1] == UsageChart.Bucket(start: queryT0 + 300_000, up: 57, down: 570))
        #expect(buckets[24] == UsageChart.Bucket(start: queryT0 + 7_200_000, up: 6, down: 8))
        #expect(buckets[2...23].allSatisfy { $0.up == 0 && $0.down == 0 })
        #expect(chart.readings == 5 && chart.untrustedReadings == 2)
    }

    @Test func aLongRangeGetsLongerBuckets() {
        var chart = UsageChart(bucketMilliseconds: 60_000, since: queryT0, until: queryT0 + 30 * 86_400_000)
        var record = JournalRecord(seq: 1, kind: .usage, wall: queryT0 + 86_400_000 + 1, mono: 0, clockTrusted: true, prev: "")
        record.up = 10
        record.down = 20
        chart.add(record)
        let (length, buckets) = chart.buckets()
        #expect(length == 3_600_000)
        #expect(buckets.count == 720)
        #expect(buckets[24] == UsageChart.Bucket(start: queryT0 + 86_400_000, up: 10, down: 20))
    }

    @Test func theSVGEscapesItsTextAndNamesItsParts() {
        let empty = UsageChart(bucketMilliseconds: 300_000).svg(title: "a < b & \"c\"")
        #expect(empty.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(empty.contains("a &lt; b &amp; &quot;c&quot;") && !empty.contains("a < b"))
        #expect(empty.contains("no usage in this range"))
        #expect(UsageChart.scale(0) == (1000, 1000) && UsageChart.scale(1502) == (500, 2000) && UsageChart.scale(7) == (2, 8))
        #expect(UsageChart.bytes(1_500_000) == "1.5 MB" && UsageChart.bytes(2000) == "2 kB" && UsageChart.bytes(999) == "999 B")
        #expect(UsageChart.number(12.34) == "12.3" && UsageChart.number(0.04) == "0.0")
    }
}
