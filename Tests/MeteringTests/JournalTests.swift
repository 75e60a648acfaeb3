import Testing
import Crypto
import Posix
@testable import Metering

struct JournalRecordTests {
    @Test func sealedLinesParseBackAndEveryEditIsCaught() throws {
        var record = JournalRecord(seq: 7, kind: .usage, wall: 1_763_700_000_000, mono: 99, clockTrusted: false, prev: JournalRecord.genesisHash)
        record.subscriber = "mac:02:00:00:00:00:01"
        record.session = 3
        record.up = 100
        record.down = 2000
        let line = record.seal { _ in nil }
        let parsed = try JournalRecord(line: line[...])
        #expect(parsed == record)
        for edit in [("\"up\":100", "\"up\":900"), ("\"session\":3", "\"session\":4"), ("untrusted", "trusted")] {
            let edited = Array(String(decoding: line, as: UTF8.self).replacingOccurrences(of: edit.0, with: edit.1).utf8)
            #expect(throws: JournalLineError.hashMismatch) { try JournalRecord(line: edited[...]) }
        }
        var appended = line
        appended.removeLast()
        appended += Array(",\"up\":5}".utf8)
        #expect(throws: (any Error).self) { try JournalRecord(line: appended[...]) }
    }

    @Test func checkpointsAreSignedByTheStation() throws {
        var record = JournalRecord(seq: 1, kind: .checkpoint, wall: 0, mono: 0, clockTrusted: true, prev: JournalRecord.genesisHash)
        record.station = stationKey.publicKey.description
        let line = record.seal { Hex.encode(stationKey.sign(JournalRecord.signingMessage($0))) }
        let parsed = try JournalRecord(line: line[...])
        #expect(parsed.signatureIsValid(for: stationKey.publicKey))
        #expect(!parsed.signatureIsValid(for: otherKey.publicKey))
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

struct JournalVerifierTests {
    func write(_ dir: String, batches: Int, key: SigningKey = stationKey, segmentLimit: Int = 1 << 20) throws {
        let recovered = try JournalRecovery.open(directory: dir)
        let writer = try JournalWriter(directory: dir, key: key, segmentLimit: segmentLimit, boot: "b", lastSeq: recovered.lastSeq,
                                       lastHash: recovered.lastHash, segmentPath: recovered.activeSegment)
        for i in 0..<batches {
            var usage = JournalDraft(.usage, subscriber: "mac:02:00:00:00:00:01", session: 1)
            usage.up = UInt64(i)
            usage.down = UInt64(i * 10)
            try writer.commit([usage, JournalDraft(.note, reason: "batch \(i)")], at: JournalStamp(wall: 1, mono: UInt64(i), clockTrusted: false),
                              nextSession: 2) { [] }
        }
    }

    func lines(_ path: String) throws -> [String] {
        String(decoding: try FileSystem.readFile(path), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func rewrite(_ path: String, _ lines: [String]) throws {
        try FileSystem.writeDurably(path, Array((lines.joined(separator: "\n") + "\n").utf8))
    }

    @Test func anIntactJournalVerifiesAcrossSegments() throws {
        let dir = TemporaryDirectory()
        try write(dir.path, batches: 40, segmentLimit: 2000)
        let report = try JournalVerifier.verify(directory: dir.path, expectedStation: stationKey.publicKey)
        #expect(report.isIntact, "\(String(describing: report.failure))")
        #expect(report.segments > 3)
        #expect(report.checkpoints == 40)
        #expect(report.unconfirmedTail == 0)
        #expect(report.firstSeq == 1 && report.lastSeq == UInt64(report.records))
    }

    @Test func anEditedRecordIsNamedBySegmentLineAndSequence() throws {
        let dir = TemporaryDirectory()
        try write(dir.path, batches: 5)
        let segment = try JournalFiles.segments(in: dir.path)[0]
        var text = try lines(segment)
        text[4] = text[4].replacingOccurrences(of: "\"up\":1,", with: "\"up\":9,")
        try rewrite(segment, text)
        let report = try JournalVerifier.verify(directory: dir.path)
        let name = String(segment.split(separator: "/").last!)
        #expect(report.failure?.description == "\(name):5: seq 5: edited: its hash does not match its content")
    }

    @Test func aRemovedRecordBreaksTheChain() throws {
        let dir = TemporaryDirectory()
        try write(dir.path, batches: 5)
        let segment = try JournalFiles.segments(in: dir.path)[0]
        var text = try lines(segment)
        text.remove(at: 6)
        try rewrite(segment, text)
        let failure = try JournalVerifier.verify(directory: dir.path).failure
        #expect(failure?.position.line == 7)
        #expect(failure?.problem.contains("records are missing") == true)
    }

    @Test func swappedRecordsAreCaught() throws {
        let dir = TemporaryDirectory()
        try write(dir.path, batches: 5)
        let segment = try JournalFiles.segments(in: dir.path)[0]
        var text = try lines(segment)
        text.swapAt(4, 5)
        try rewrite(segment, text)
        #expect(try JournalVerifier.verify(directory: dir.path).failure?.position.line == 5)
    }

    @Test func anotherStationsRecordsAreCaught() throws {
        let dir = TemporaryDirectory()
        try write(dir.path, batches: 2, key: otherKey)
        let pinned = try JournalVerifier.verify(directory: dir.path, expectedStation: stationKey.publicKey)
        #expect(pinned.failure?.problem.hasPrefix("written by another station") == true)
        #expect(pinned.failure?.position.line == 1)
    }

    @Test func aTornTailIsReportedAndCutOnOpen() throws {
        let dir = TemporaryDirectory()
        try write(dir.path, batches: 3)
        let segment = try JournalFiles.segments(in: dir.path)[0]
        let whole = try FileSystem.readFile(segment)
        try FileSystem.writeDurably(segment, whole + Array("{\"seq\":10,\"type\":\"us".utf8))
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.isIntact && report.tornTail?.line == 11)
        let recovered = try JournalRecovery.open(directory: dir.path)
        #expect(recovered.notes.count == 1 && recovered.notes[0].hasPrefix("cut a torn record of 20 bytes"))
        #expect(try FileSystem.readFile(segment) == whole)
        #expect(recovered.lastSeq == 10)
        try write(dir.path, batches: 1)
        #expect(try JournalVerifier.verify(directory: dir.path).isIntact)
    }

    @Test func damageInsideTheActiveSegmentIsReportedNotSkipped() throws {
        let dir = TemporaryDirectory()
        try write(dir.path, batches: 4)
        let segment = try JournalFiles.segments(in: dir.path)[0]
        var text = try lines(segment)
        text[2] = "garbage"
        try rewrite(segment, text)
        let recovered = try JournalRecovery.open(directory: dir.path)
        #expect(recovered.damage?.position.line == 3)
        #expect(recovered.lastSeq == 13)
    }
}
