import Crypto
import Posix

/// A record before it takes its place in the chain (no sequence number, hashes or time yet).
public struct JournalDraft: Sendable, Equatable {
    public var kind: JournalRecord.Kind
    public var subscriber: String?
    public var session: UInt64?
    public var up: UInt64?
    public var down: UInt64?
    public var upTotal: UInt64?
    public var downTotal: UInt64?
    public var upCounter: UInt64?
    public var downCounter: UInt64?
    public var reason: String?

    public init(_ kind: JournalRecord.Kind, subscriber: String? = nil, session: UInt64? = nil, reason: String? = nil) {
        self.kind = kind
        self.subscriber = subscriber
        self.session = session
        self.reason = reason
    }
}

/// When and under which clock a flush happens.
public struct JournalStamp: Sendable {
    public var wall: Int64
    public var mono: UInt64
    public var clockTrusted: Bool

    public init(wall: Int64, mono: UInt64, clockTrusted: Bool) {
        self.wall = wall
        self.mono = mono
        self.clockTrusted = clockTrusted
    }

    public static func now(clockTrusted: Bool) -> JournalStamp {
        JournalStamp(wall: SystemClock.wallMilliseconds(), mono: SystemClock.monotonicNanoseconds(), clockTrusted: clockTrusted)
    }
}

/// Appends to the journal: every commit is one write and one fsync, closed by a signed
/// checkpoint (group commit). A commit that fails (a full disk) leaves the segment exactly
/// as it was, so nothing half-written is ever taken as durable.
public final class JournalWriter {
    public let directory: String
    private let key: SigningKey
    private let segmentLimit: Int
    private let boot: String
    public private(set) var lastSeq: UInt64
    public private(set) var lastHash: String
    private var segment: (path: String, fd: FileDescriptor, size: Int)?

    /// Flash wear counters, for `make bench` and status.
    public private(set) var bytesAppended = 0
    public private(set) var fsyncs = 0

    /// Continues the chain after `lastSeq`/`lastHash`, appending to `segmentPath` (nil: start a new segment).
    public init(directory: String, key: SigningKey, segmentLimit: Int, boot: String, lastSeq: UInt64, lastHash: String,
                segmentPath: String?) throws(SystemError) {
        self.directory = directory
        self.key = key
        self.segmentLimit = segmentLimit
        self.boot = boot
        self.lastSeq = lastSeq
        self.lastHash = lastHash
        if let segmentPath {
            let fd = try FileDescriptor.open(segmentPath, [.writeOnly, .append])
            segment = (segmentPath, fd, try FileSystem.size(of: segmentPath))
        }
    }

    deinit { segment?.fd.close() }

    /// Writes `drafts` and a checkpoint durably, starting a new segment first when the
    /// current one is full (its header lists `openSessions()` and the next session id).
    /// Returns the records written.
    @discardableResult
    public func commit(_ drafts: [JournalDraft], at stamp: JournalStamp,
                       nextSession: UInt64, openSessions: () -> [JournalRecord.OpenSession]) throws(SystemError) -> [JournalRecord] {
        var seq = lastSeq
        var prev = lastHash
        var records: [JournalRecord] = []
        var bytes: [UInt8] = []
        func append(_ build: (inout JournalRecord) -> Void) {
            seq += 1
            var record = JournalRecord(seq: seq, kind: .note, wall: stamp.wall, mono: stamp.mono, clockTrusted: stamp.clockTrusted, prev: prev)
            build(&record)
            bytes += record.seal { Hex.encode(key.sign(JournalRecord.signingMessage($0))) }
            bytes.append(UInt8(ascii: "\n"))
            prev = record.hash
            records.append(record)
        }

        let newSegment = segment == nil || segment!.size >= segmentLimit
        if newSegment {
            append { r in
                r.kind = .header
                r.station = key.publicKey.description
                r.boot = boot
                r.session = nextSession
                r.openSessions = openSessions()
            }
        }
        for draft in drafts {
            append { r in
                r.kind = draft.kind
                r.subscriber = draft.subscriber
                r.session = draft.session
                r.up = draft.up
                r.down = draft.down
                r.upTotal = draft.upTotal
                r.downTotal = draft.downTotal
                r.upCounter = draft.upCounter
                r.downCounter = draft.downCounter
                r.reason = draft.reason
            }
        }
        append { r in
            r.kind = .checkpoint
            r.station = key.publicKey.description
        }

        if newSegment { try startSegment(firstSeq: lastSeq + 1) }
        guard let current = segment else { return [] }
        do {
            try current.fd.writeAll(bytes)
            try current.fd.sync()
        } catch {
            // Cut back to where the segment was: a torn batch must never look durable.
            try? current.fd.truncate(to: Int64(current.size))
            if current.size == 0 { abandonSegment() }
            throw SystemError(error.errno, "journal \(current.path)")
        }
        fsyncs += 1
        bytesAppended += bytes.count
        segment!.size += bytes.count
        lastSeq = seq
        lastHash = prev
        return records
    }

    private func startSegment(firstSeq: UInt64) throws(SystemError) {
        segment?.fd.close()
        segment = nil
        let path = "\(directory)/\(JournalFiles.segmentName(firstSeq: firstSeq))"
        let fd = try FileDescriptor.open(path, [.writeOnly, .create, .exclusive, .append], mode: 0o640)
        do { try FileSystem.syncDirectory(directory) } catch {
            fd.close()
            FileSystem.remove(path)
            throw error
        }
        fsyncs += 1
        segment = (path, fd, 0)
    }

    private func abandonSegment() {
        guard let current = segment else { return }
        current.fd.close()
        FileSystem.remove(current.path)
        segment = nil
    }
}

/// Names and lists the journal's segment files.
public enum JournalFiles {
    /// No segment is read past this size (the writer starts a new one long before).
    public static let maximumSegmentBytes = 1 << 30

    public static func segmentName(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "journal-" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits + ".jsonl"
    }

    /// The segments in `directory`, oldest first.
    public static func segments(in directory: String) throws(SystemError) -> [String] {
        try FileSystem.listDirectory(directory)
            .filter { $0.hasPrefix("journal-") && $0.hasSuffix(".jsonl") }
            .sorted()
            .map { "\(directory)/\($0)" }
    }
}
