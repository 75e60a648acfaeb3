import Crypto
import Daemon
import Metering
import Posix

/// `qlinkctl meter …`: the metering journal, read straight from its files, so every one of
/// these works while qlinkd is down. They only read, except `chart --output FILE`.
extension Command {
    public static let meter = Command(
        name: "meter", summary: "the metering journal, read from its files (works while qlinkd is down)",
        options: [MeterOptions.journal], acceptsJSON: false, needsDaemon: false,
        subcommands: [meterShow, meterSummary, meterVerify, meterExport, meterChart], details: MeterOptions.details
    ) { _ in throw UsageError("'meter' needs a subcommand", command: "meter") }

    /// `meter show`: the records, one a line.
    static let meterShow = MeterOptions.command(
        "show", "the journal's records, one a line (--json: the lines as written)",
        [MeterOptions.subscriber, MeterOptions.since, MeterOptions.until, MeterOptions.type]
    ) { context, journal in
        let filter = try MeterOptions.filter(context, kinds: MeterOptions.kinds(context))
        var out = LineBuffer(context.output)
        let status = try MeterOptions.scan(context, journal, filter) { entry in
            try out.append(context.json ? entry.line : MeterText.showLine(entry.record))
        }
        try out.flush()
        return status
    }

    /// `meter summary`: bytes and sessions per subscriber.
    static let meterSummary = MeterOptions.command(
        "summary", "bytes up and down and sessions per subscriber, with totals and any bytes lost",
        [MeterOptions.subscriber, MeterOptions.since, MeterOptions.until]
    ) { context, journal in
        var summary = UsageSummary()
        let filter = try MeterOptions.filter(context, kinds: [.open, .usage, .close, .note])
        let status = try MeterOptions.scan(context, journal, filter) { summary.add($0.record) }
        if context.json {
            try context.output.line(MeterText.summaryJSON(summary).compactText)
        } else {
            try context.output.lines(MeterText.summaryLines(summary))
        }
        return status
    }

    /// `meter verify`: the hash chain and the checkpoint signatures.
    static let meterVerify = MeterOptions.command(
        "verify", "check the hash chain and the station's signatures; exit 1 naming the first break", []
    ) { context, journal in
        let key = MeterOptions.stationKey(context)
        let report = try JournalVerifier.verify(directory: journal, expectedStation: key.key)
        if context.json {
            try context.output.line(MeterText.verifyJSON(report, journal: journal, key: key).compactText)
        } else {
            try context.output.lines(MeterText.verifyLines(report, journal: journal, key: key))
        }
        guard let failure = report.failure else { return ExitStatus.ok }
        try context.error.line("qlinkctl: journal broken at \(failure)")
        return ExitStatus.refused
    }

    /// `meter export`: usage records as CSV or JSON lines.
    static let meterExport = MeterOptions.command(
        "export", "usage records as CSV (a header line, RFC 4180 quoting) or as the JSON lines written",
        [MeterOptions.subscriber, MeterOptions.since, MeterOptions.until, MeterOptions.format], acceptsJSON: false
    ) { context, journal in
        let format = context.arguments.options["format"] ?? "csv"
        guard format == "csv" || format == "jsonl" else {
            throw UsageError("--format is csv or jsonl, got '\(format)'", command: "meter export")
        }
        let filter = try MeterOptions.filter(context, kinds: [.usage])
        var out = LineBuffer(context.output)
        if format == "csv" { try out.append(MeterText.csvHeader) }
        let status = try MeterOptions.scan(context, journal, filter) { entry in
            try out.append(format == "csv" ? MeterText.csvLine(entry.record) : entry.line)
        }
        try out.flush()
        return status
    }

    /// `meter chart`: an SVG of bytes per time bucket.
    static let meterChart = MeterOptions.command(
        "chart", "an SVG of bytes per time bucket, up stacked on down, in total or for one subscriber",
        [MeterOptions.subscriber, MeterOptions.since, MeterOptions.until, MeterOptions.bucket, MeterOptions.output], acceptsJSON: false
    ) { context, journal in
        let filter = try MeterOptions.filter(context, kinds: [.usage])
        let bucketText = context.arguments.options["bucket"] ?? "5m"
        guard let bucket = JournalTime.relative(bucketText), (10_000...366 * 86_400_000).contains(bucket) else {
            throw UsageError("--bucket needs a span from 10s to 366d such as 30s, 5m, 1h or 1d, got '\(bucketText)'", command: "meter chart")
        }
        var chart = UsageChart(bucketMilliseconds: bucket, since: filter.since, until: filter.until)
        let status = try MeterOptions.scan(context, journal, filter) { chart.add($0.record) }
        let svg = chart.svg(title: filter.subscriber.map { "Usage of \($0)" } ?? "Usage of all subscribers")
        if let path = context.arguments.options["output"] {
            do throws(SystemError) { try FileSystem.writeDurably(path, Array(svg.utf8), mode: 0o644) } catch {
                try context.error.line("qlinkctl: cannot write \(error)")
                return error.errno == .accessDenied ? ExitStatus.noPermission : ExitStatus.ioError
            }
        } else {
            try context.output.write(svg)
        }
        return status
    }
}

/// The options and plumbing the `meter` subcommands share.
enum MeterOptions {
    static let journal = OptionSpec("journal", "DIR", "read the journal in DIR instead of the one the config names")
    static let subscriber = OptionSpec("subscriber", "ID", "only this subscriber: mac:aa:bb:cc:dd:ee:ff or imsi:001010123456789")
    static let since = OptionSpec("since", "TIME", "records at or after TIME: 2026-11-21T06:00:00Z, 2026-11-21, -2h, -30m")
    static let until = OptionSpec("until", "TIME", "records before TIME (a bare date: through the end of that day)")
    static let type = OptionSpec("type", "TYPES", "comma-separated record types or all (default open,usage,close,note)")
    static let format = OptionSpec("format", "csv|jsonl", "csv (default) or jsonl")
    static let bucket = OptionSpec("bucket", "SPAN", "bytes per SPAN: 30s, 5m, 1h, 1d (default 5m; longer when the range needs it)")
    static let output = OptionSpec("output", "FILE", "write the SVG to FILE instead of standard output")

    static let details = [
        "The journal is found with --journal DIR, else from the config (--config FILE, default \(DaemonConfig.defaultPath)):",
        "[metering] directory, else [paths] state + /metering. Only those keys and [station] key_file are checked.",
        "Times are UTC. TIME is ISO 8601 (2026-11-21T06:00:00Z; seconds, fraction and zone optional, no zone = UTC),",
        "a date (2026-11-21), relative to now (-2h, -30m, -1h30m, -7d) or now. Each line's own hash is checked as it",
        "is read: damaged lines are named on standard error and the exit status is 65 after what could be read.",
        "verify pins the station key from [station] key_file when it can be read, else uses the key in the journal's",
        "first header (and says so); it exits 1 naming the first break as SEGMENT:LINE.",
    ]

    /// A `meter` subcommand: finds the journal, then runs `body` with it.
    static func command(_ name: String, _ summary: String, _ options: [OptionSpec], acceptsJSON: Bool = true,
                        body: @escaping @Sendable (CommandContext, String) throws -> Int32) -> Command {
        Command(name: name, summary: summary, options: [journal] + options, acceptsJSON: acceptsJSON, needsDaemon: false,
                details: details) { context in
            let directory = try journalDirectory(context)
            do {
                return try body(context, directory)
            } catch let error as SystemError {
                try context.error.line("qlinkctl: cannot read the journal: \(error)")
                switch error.errno {
                case .noEntry: return ExitStatus.noInput
                case .accessDenied, System.notPermitted: return ExitStatus.noPermission
                default: return ExitStatus.ioError
                }
            }
        }
    }

    /// `--journal DIR`, else the metering directory of `--config FILE` (or the default config).
    static func journalDirectory(_ context: CommandContext) throws -> String {
        if let directory = context.arguments.options["journal"] {
            guard !directory.isEmpty else { throw UsageError("option --journal needs a value", command: context.arguments.fullCommand) }
            return directory
        }
        let config = context.arguments.config ?? context.defaultConfig
        do { return try ConfigLoader.stationFiles(path: config).metering } catch {
            let failure = DaemonConfig.Failure(error, config: config)
            if case .unreadable = failure, context.arguments.config == nil {
                try context.error.line("qlinkctl: \(failure); give --config FILE or --journal DIR")
                throw QuietExit(status: failure.exitStatus)
            }
            throw failure
        }
    }

    /// The station's key to pin, from the config's `[station] key_file`, or why there is none.
    static func stationKey(_ context: CommandContext) -> (key: PublicKey?, file: String?, problem: String?) {
        let config = context.arguments.config ?? context.defaultConfig
        if context.arguments.options["journal"] != nil, context.arguments.config == nil, !FileSystem.exists(config) {
            return (nil, nil, "no station key file known (give --config FILE)")
        }
        let file: String
        do { file = try ConfigLoader.stationFiles(path: config).stationKey } catch {
            return (nil, nil, "no station key file known: \(DaemonConfig.Failure(error, config: config))")
        }
        do { return (try StationIdentity.load(path: file).publicKey, file, nil) } catch {
            return (nil, file, error.description)
        }
    }

    /// The filter `--subscriber`, `--since` and `--until` ask for.
    static func filter(_ context: CommandContext, kinds: Set<JournalRecord.Kind>?) throws(UsageError) -> JournalFilter {
        let arguments = context.arguments
        var filter = JournalFilter(kinds: kinds)
        if let text = arguments.options["subscriber"] {
            guard let id = JournalFilter.subscriberID(text) else {
                throw UsageError("--subscriber needs mac:aa:bb:cc:dd:ee:ff or imsi:DIGITS, got '\(text)'", command: arguments.fullCommand)
            }
            filter.subscriber = id
        }
        let now = SystemClock.wallMilliseconds()
        for name in ["since", "until"] {
            guard let text = arguments.options[name] else { continue }
            guard let time = JournalTime.parse(text, now: now, endOfDay: name == "until") else {
                throw UsageError("--\(name) needs a time such as 2026-11-21T06:00:00Z, 2026-11-21 or -2h, got '\(text)'",
                                 command: arguments.fullCommand)
            }
            if name == "since" { filter.since = time } else { filter.until = time }
        }
        if let since = filter.since, let until = filter.until, since >= until {
            throw UsageError("--since must be before --until", command: arguments.fullCommand)
        }
        return filter
    }

    /// `--type` of `show`.
    static func kinds(_ context: CommandContext) throws(UsageError) -> Set<JournalRecord.Kind> {
        guard let text = context.arguments.options["type"] else { return [.open, .usage, .close, .note] }
        guard let kinds = JournalFilter.kinds(text), !kinds.isEmpty else {
            throw UsageError("--type needs record types (header, open, usage, close, note, checkpoint) or all, got '\(text)'",
                             command: context.arguments.fullCommand)
        }
        return kinds
    }

    /// Reads the journal through `filter`, naming damaged lines on standard error as they come.
    /// Returns 65 if any line was damaged (a torn tail at the very end is only warned about).
    static func scan(_ context: CommandContext, _ directory: String, _ filter: JournalFilter,
                     _ body: (JournalEntry) throws -> Void) throws -> Int32 {
        var damaged = 0
        try JournalQuery(directory: directory).forEach(filter, damage: { damage in
            if !damage.isTornTail { damaged += 1 }
            try context.error.line("qlinkctl: warning: \(damage)")
        }, body)
        guard damaged > 0 else { return ExitStatus.ok }
        try context.error.line("qlinkctl: \(damaged) damaged line\(damaged == 1 ? "" : "s") in the journal, skipped; see 'qlinkctl meter verify'")
        return ExitStatus.dataError
    }
}

/// Ends a command with a status after it has said why itself.
struct QuietExit: Error {
    let status: Int32
}

extension Arguments {
    /// `meter show`, or the command alone.
    var fullCommand: String? { command.map { name in subcommand.map { "\(name) \($0)" } ?? name } }
}

/// Collects lines and writes them in chunks: one write a line is slow for a whole journal.
struct LineBuffer {
    let sink: any OutputSink
    private var text = ""

    init(_ sink: any OutputSink) { self.sink = sink }

    mutating func append(_ line: String) throws(OutputError) {
        text += line
        text += "\n"
        if text.utf8.count >= 1 << 16 { try flush() }
    }

    mutating func flush() throws(OutputError) {
        guard !text.isEmpty else { return }
        try sink.write(text)
        text = ""
    }
}

/// How the `meter` subcommands print.
enum MeterText {
    /// `2026-11-21 06:00:00      42  usage       mac:02:00:00:00:00:01        3  +1.2 kB/+30.0 kB  (clock untrusted)`.
    static func showLine(_ record: JournalRecord) -> String {
        let detail: String
        switch record.kind {
        case .usage: detail = "+\(Format.bytes(record.up ?? 0))/+\(Format.bytes(record.down ?? 0))"
        case .open: detail = ""
        case .close: detail = "total \(Format.bytes(record.upTotal ?? 0))/\(Format.bytes(record.downTotal ?? 0))" + (record.reason.map { ": \($0)" } ?? "")
        case .note: detail = record.reason ?? ""
        case .header:
            let open = record.openSessions?.count ?? 0
            detail = "station \(record.station ?? "?"), boot \(record.boot ?? "?"), \(open) open session\(open == 1 ? "" : "s")"
        case .checkpoint: detail = "signed by \(record.station ?? "?")"
        }
        var line = JournalTime.readable(record.wall) + "  " + pad(String(record.seq), 8, right: true) + "  " + pad(record.kind.rawValue, 10)
            + "  " + pad(record.subscriber ?? "-", 24) + "  " + pad(record.session.map(String.init) ?? "-", 6, right: true) + "  " + detail
        if !record.clockTrusted { line += "  (clock untrusted)" }
        while line.last == " " { line.removeLast() }
        return line
    }

    static func summaryJSON(_ summary: UsageSummary) -> JSONValue {
        .array(summary.subscribers.map { usage in
            .object(["subscriber": .string(usage.subscriber), "up_bytes": .unsigned(usage.upBytes),
                     "down_bytes": .unsigned(usage.downBytes), "sessions": .integer(Int64(usage.sessions))])
        })
    }

    static func summaryLines(_ summary: UsageSummary) -> [String] {
        var lines: [String]
        if summary.subscribers.isEmpty {
            lines = ["no usage in the journal for this selection"]
        } else {
            var table = Table([.init("SUBSCRIBER"), .init("UP", .right), .init("DOWN", .right), .init("SESSIONS", .right)])
            for usage in summary.subscribers {
                table.append([usage.subscriber, Format.bytes(usage.upBytes), Format.bytes(usage.downBytes), "\(usage.sessions)"])
            }
            table.append(["total", Format.bytes(summary.upBytes), Format.bytes(summary.downBytes), "\(summary.sessions)"])
            lines = table.render()
        }
        if !summary.lostBytes.isEmpty {
            lines += ["", "bytes lost (not metered):"] + summary.lostBytes.map { "  " + $0 }
        }
        return lines
    }

    typealias StationKey = (key: PublicKey?, file: String?, problem: String?)

    static func keyText(_ key: StationKey) -> String {
        if key.key != nil, let file = key.file { return "pinned: \(file)" }
        return "the key in the journal's first header (not pinned: \(key.problem ?? "no station key file"))"
    }

    static func verifyLines(_ report: JournalReport, journal: String, key: StationKey) -> [String] {
        var pairs: [(String, String)] = [
            ("journal", journal),
            ("station", report.station ?? key.key?.description ?? "?"),
            ("key", keyText(key)),
            ("segments", "\(report.segments)"),
            ("records", "\(report.records)" + (report.firstSeq.map { first in " (seq \(first) to \(report.lastSeq ?? first))" } ?? "")),
            ("checkpoints", "\(report.checkpoints)"),
            ("unconfirmed", "\(report.unconfirmedTail) record\(report.unconfirmedTail == 1 ? "" : "s") after the last checkpoint"),
            ("torn tail", report.tornTail.map { "\($0) (a crash during a write; qlinkd cuts it on start)" } ?? "none"),
        ]
        for (index, note) in report.notes.enumerated() { pairs.append((index == 0 ? "notes" : "", note)) }
        pairs.append(("result", report.failure.map { "BROKEN at \($0)" } ?? "intact"))
        return aligned(pairs)
    }

    static func verifyJSON(_ report: JournalReport, journal: String, key: StationKey) -> JSONValue {
        func optional(_ value: UInt64?) -> JSONValue { value.map { .unsigned($0) } ?? .null }
        let failure: JSONValue = report.failure.map { failure in
            .object(["segment": .string(failure.position.segment), "line": .integer(Int64(failure.position.line)),
                     "seq": optional(failure.seq), "problem": .string(failure.problem)])
        } ?? .null
        return .object([
            "journal": .string(journal), "intact": .bool(report.isIntact), "failure": failure,
            "station": (report.station ?? key.key?.description).map { .string($0) } ?? .null,
            "key_pinned": .bool(key.key != nil), "key_file": key.file.map { .string($0) } ?? .null,
            "key_problem": key.problem.map { .string($0) } ?? .null,
            "segments": .integer(Int64(report.segments)), "records": .integer(Int64(report.records)),
            "checkpoints": .integer(Int64(report.checkpoints)), "first_seq": optional(report.firstSeq), "last_seq": optional(report.lastSeq),
            "unconfirmed_tail": .integer(Int64(report.unconfirmedTail)),
            "torn_tail": report.tornTail.map { .string($0.description) } ?? .null,
            "notes": .array(report.notes.map { .string($0) }),
        ])
    }

    static let csvHeader = "seq,time_utc,wall_ms,clock_trusted,subscriber,session,up_bytes,down_bytes,up_total,down_total"

    static func csvLine(_ record: JournalRecord) -> String {
        func number(_ value: UInt64?) -> String { value.map(String.init) ?? "" }
        return [String(record.seq), JournalTime.iso(record.wall), String(record.wall), record.clockTrusted ? "true" : "false",
                record.subscriber ?? "", number(record.session), number(record.up), number(record.down),
                number(record.upTotal), number(record.downTotal)].map(csvField).joined(separator: ",")
    }

    /// RFC 4180: a field with a comma, a double quote or a line break is quoted, its quotes doubled.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        return "\"" + text.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }
}
