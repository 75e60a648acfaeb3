import Crypto
import Posix

/// What opening the journal found: where the chain ends, the sessions that were open, and
/// anything a person must hear about (a torn tail cut back, damage).
public struct RecoveredJournal: Sendable {
    public var lastSeq: UInt64 = 0
    public var lastHash = JournalRecord.genesisHash
    /// The segment to go on appending to (nil: none yet).
    public var activeSegment: String?
    /// Sessions open at the end of the journal, with their last durable readings.
    public var openSessions: [JournalRecord.OpenSession] = []
    /// The boot the last segment began in.
    public var boot: String?
    /// The id the next session gets.
    public var nextSession: UInt64 = 1
    /// Monotonic time of the last record, in that boot.
    public var lastMono: UInt64 = 0
    /// Monotonic time of each subscriber's last reading in the active segment (its header's
    /// open sessions included): a session that began later was never journaled.
    public var lastReadingOf: [String: UInt64] = [:]
    /// Monotonic time of the active segment's header: a subscriber it does not name has
    /// no session journaled that began after this.
    public var segmentStart: UInt64?
    /// Messages for the log and for a `note` record.
    public var notes: [String] = []
    /// Damage found inside the active segment (not at its tail): metering goes on, loudly.
    public var damage: JournalBreak?
}

/// Opens the journal at start: checks the active segment, cuts a torn tail back to the
/// last whole record (and reports it), and rebuilds the open sessions from its header
/// and records. Earlier segments are left to `JournalVerifier` (`qlinkctl meter verify`).
public enum JournalRecovery {
    public static func open(directory: String) throws(SystemError) -> RecoveredJournal {
        try FileSystem.createDirectory(directory, mode: 0o750)
        var result = RecoveredJournal()
        guard let path = try JournalFiles.segments(in: directory).last else { return result }
        let name = String(path.split(separator: "/").last ?? "")
        var bytes = try FileSystem.readRegularFile(path, limit: JournalFiles.maximumSegmentBytes)
        var lines = JournalLines(bytes)
        if let torn = lines.tornTail {
            try FileSystem.truncate(path, to: torn.offset)
            result.notes.append("cut a torn record of \(torn.bytes.count) bytes at \(name):\(lines.complete.count + 1) (a crash during a write)")
            bytes.removeSubrange(torn.offset...)
            lines = JournalLines(bytes)
        }
        // Whole lines that do not verify at the very end are the remains of an interrupted
        // batch too (a crash can persist a line's bytes out of order): cut them, and say so.
        var valid: [JournalRecord] = []
        var firstBad: (index: Int, error: JournalLineError)?
        for (index, line) in lines.complete.enumerated() {
            do { valid.append(try JournalRecord(line: line)) } catch {
                firstBad = (index, error)
                break
            }
        }
        if let firstBad {
            let laterValid = lines.complete[(firstBad.index + 1)...].contains { (try? JournalRecord(line: $0)) != nil }
            if laterValid {
                result.damage = JournalBreak(position: JournalPosition(segment: name, line: firstBad.index + 1),
                                             seq: valid.last.map { $0.seq + 1 }, problem: "\(firstBad.error)")
                valid = lines.complete.compactMap { try? JournalRecord(line: $0) }
            } else {
                let offset = lines.complete[firstBad.index].startIndex
                try FileSystem.truncate(path, to: offset)
                result.notes.append("cut \(lines.complete.count - firstBad.index) damaged last line(s) at \(name):\(firstBad.index + 1): \(firstBad.error)")
            }
        }
        if valid.isEmpty {
            // Nothing whole survived in the newest segment: it was being created when the power went.
            FileSystem.remove(path)
            result.notes.append("removed \(name): no whole record in it")
            return try chainEnd(of: directory, into: result)
        }
        result.activeSegment = path
        apply(valid, to: &result)
        return result
    }

    /// Rebuilds the end of the chain from the segment before (after removing an empty newest one).
    private static func chainEnd(of directory: String, into result: RecoveredJournal) throws(SystemError) -> RecoveredJournal {
        var result = result
        guard let previous = try JournalFiles.segments(in: directory).last else { return result }
        let records = JournalLines(try FileSystem.readRegularFile(previous, limit: JournalFiles.maximumSegmentBytes)).complete.compactMap { try? JournalRecord(line: $0) }
        guard !records.isEmpty else { return result }
        result.activeSegment = previous
        apply(records, to: &result)
        return result
    }

    /// Replays a segment's records over its header's open sessions.
    static func apply(_ records: [JournalRecord], to result: inout RecoveredJournal) {
        var open: [UInt64: JournalRecord.OpenSession] = [:]
        for record in records {
            switch record.kind {
            case .header:
                result.boot = record.boot
                result.segmentStart = record.mono
                result.nextSession = max(result.nextSession, record.session ?? 1)
                for session in record.openSessions ?? [] {
                    open[session.session] = session
                    result.lastReadingOf[session.subscriber] = max(result.lastReadingOf[session.subscriber] ?? 0, session.readAt)
                }
            case .open:
                guard let sub = record.subscriber, let id = record.session else { break }
                result.nextSession = max(result.nextSession, id + 1)
                open[id] = .init(subscriber: sub, session: id, upTotal: 0, downTotal: 0,
                                         upCounter: record.upCounter ?? 0, downCounter: record.downCounter ?? 0, readAt: record.mono)
                result.lastReadingOf[sub] = record.mono
            case .usage:
                guard let id = record.session, var session = open[id] else { break }
                session.upTotal = record.upTotal ?? session.upTotal
                session.downTotal = record.downTotal ?? session.downTotal
                session.upCounter = record.upCounter ?? session.upCounter
                session.downCounter = record.downCounter ?? session.downCounter
                session.readAt = record.mono
                open[id] = session
                result.lastReadingOf[session.subscriber] = record.mono
            case .close:
                if let id = record.session { open[id] = nil }
            case .note, .checkpoint:
                break
            }
            result.lastSeq = record.seq
            result.lastHash = record.hash
            result.lastMono = record.mono
        }
        result.openSessions = open.values.sorted { $0.session < $1.session }
    }
}
