import Crypto
import Posix

/// Where a record sits: its segment file and line number (1-based).
public struct JournalPosition: Sendable, Equatable, CustomStringConvertible {
    public let segment: String
    public let line: Int
    public var description: String { "\(segment):\(line)" }
}

/// The first thing wrong with a journal, named so a person can find it.
public struct JournalBreak: Error, Sendable, Equatable, CustomStringConvertible {
    public let position: JournalPosition
    /// The sequence number the record claims, if it could be read, else the one expected there.
    public let seq: UInt64?
    public let problem: String

    public var description: String {
        "\(position): seq \(seq.map(String.init) ?? "?"): \(problem)"
    }
}

/// What `verify` found.
public struct JournalReport: Sendable {
    public var segments = 0
    public var records = 0
    public var checkpoints = 0
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    /// The station whose key signed the checkpoints.
    public var station: String?
    /// Records after the last checkpoint (written, never confirmed by a signature).
    public var unconfirmedTail = 0
    /// Notes the journal carries about itself (recoveries, lost bytes).
    public var notes: [String] = []
    /// The first break, if any; a journal with a break is not to be trusted past it.
    public var failure: JournalBreak?
    /// A torn last line (a crash mid-write); the daemon cuts it on start.
    public var tornTail: JournalPosition?

    public var isIntact: Bool { failure == nil }
}

/// Checks a whole journal: every record's own hash, the chain of `prev` hashes and sequence
/// numbers across segments, and every checkpoint's signature by the station's key.
public enum JournalVerifier {
    /// `expectedStation` pins the key (the station's own `station.key`); without it the key
    /// named by the first header is used and every other one is a break.
    public static func verify(directory: String, expectedStation: PublicKey? = nil) throws(SystemError) -> JournalReport {
        var report = JournalReport()
        var prev = JournalRecord.genesisHash
        var expectedSeq: UInt64?
        var station = expectedStation
        let segments = try JournalFiles.segments(in: directory)
        report.segments = segments.count
        for (index, path) in segments.enumerated() {
            let name = String(path.split(separator: "/").last ?? "")
            let lines = JournalLines(try FileSystem.readRegularFile(path, limit: JournalFiles.maximumSegmentBytes))
            for (number, line) in lines.complete.enumerated() {
                let position = JournalPosition(segment: name, line: number + 1)
                func fail(_ problem: String, seq: UInt64?) -> JournalReport {
                    report.failure = JournalBreak(position: position, seq: seq ?? expectedSeq, problem: problem)
                    return report
                }
                let record: JournalRecord
                do { record = try JournalRecord(line: line) } catch { return fail("\(error)", seq: nil) }
                if let expectedSeq, record.seq != expectedSeq {
                    return fail(record.seq < expectedSeq ? "sequence goes back (expected \(expectedSeq)): a record is repeated or reordered"
                                                         : "sequence skips from \(expectedSeq - 1): records are missing", seq: record.seq)
                }
                guard record.prev == prev else { return fail("previous-hash link broken: a record before it was changed, removed or reordered", seq: record.seq) }
                if number == 0 && record.kind != .header { return fail("segment does not begin with a header", seq: record.seq) }
                if record.kind == .header || record.kind == .checkpoint {
                    guard let named = record.station.flatMap(Hex.decode).flatMap(PublicKey.init(bytes:)) else {
                        return fail("no station key", seq: record.seq)
                    }
                    if station == nil { station = named }
                    if named != station { return fail("written by another station (\(named)), not \(station!)", seq: record.seq) }
                }
                if record.kind == .checkpoint {
                    guard record.signatureIsValid(for: station!) else { return fail("checkpoint signature does not verify with the station's key", seq: record.seq) }
                    report.checkpoints += 1
                    report.unconfirmedTail = 0
                } else {
                    report.unconfirmedTail += 1
                }
                if record.kind == .note, let reason = record.reason { report.notes.append("seq \(record.seq): \(reason)") }
                if report.firstSeq == nil { report.firstSeq = record.seq }
                report.lastSeq = record.seq
                report.records += 1
                prev = record.hash
                expectedSeq = record.seq + 1
            }
            if lines.tornTail != nil {
                let position = JournalPosition(segment: name, line: lines.complete.count + 1)
                guard index == segments.count - 1 else {
                    report.failure = JournalBreak(position: position, seq: expectedSeq, problem: "torn record inside the journal (not at its end)")
                    return report
                }
                report.tornTail = position
            }
        }
        report.station = station?.description
        return report
    }
}

/// A segment's bytes split into whole lines and, if the last one has no newline, a torn tail.
struct JournalLines {
    let complete: [ArraySlice<UInt8>]
    /// The bytes after the last newline, and where they start.
    let tornTail: (offset: Int, bytes: ArraySlice<UInt8>)?

    init(_ bytes: [UInt8]) {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            lines.append(bytes[start..<i])
            start = i + 1
        }
        complete = lines
        tornTail = start < bytes.count ? (start, bytes[start...]) : nil
    }
}
