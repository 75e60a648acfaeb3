import Crypto
import Metering
@testable import OperatorCLI
import Posix
import Testing

/// `qlinkctl meter …` against journals written by `JournalWriter` in a temporary directory,
/// with no daemon anywhere.
@Suite struct MeterCommandTests {
    static let key = SigningKey(seed: [UInt8](repeating: 42, count: 32))!
    static let otherKey = SigningKey(seed: [UInt8](repeating: 43, count: 32))!
    /// 2026-11-21T06:00:00Z.
    static let t0: Int64 = 1_795_240_800_000
    static let a = "mac:02:00:00:00:00:01", b = "mac:02:00:00:00:00:02"
    static let firstSegment = "journal-0000000000000001.jsonl"

    /// `STATE/station.key`, `STATE/metering/…` and `qlinkd.conf` naming STATE.
    static func station(_ dir: borrowing TemporaryDirectory, key: SigningKey = key) throws -> (journal: String, config: String) {
        let journal = "\(dir.path)/state/metering"
        try FileSystem.createDirectory("\(dir.path)/state")
        try FileSystem.createDirectory(journal)
        try dir.file("state/station.key", Hex.encode(key.seed) + "\n")
        try dir.file("qlinkd.conf", "[paths]\nstate = \(dir.path)/state\n")
        let writer = try JournalWriter(directory: journal, key: Self.key, segmentLimit: 1 << 20, boot: "b", lastSeq: 0,
                                       lastHash: "0000000000000000000000000000000000000000000000000000000000000000", segmentPath: nil)
        func usage(_ sub: String, _ session: UInt64, _ up: UInt64, _ down: UInt64) -> JournalDraft {
            var draft = JournalDraft(.usage, subscriber: sub, session: session)
            (draft.up, draft.down) = (up, down)
            (draft.upTotal, draft.downTotal) = (up, down)
            return draft
        }
        let batches: [(Int64, Bool, [JournalDraft])] = [
            (t0, true, [JournalDraft(.open, subscriber: a, session: 1), JournalDraft(.open, subscriber: b, session: 2), usage(a, 1, 100, 1000)]),
            (t0 + 300_000, true, [usage(a, 1, 50, 500), usage(b, 2, 7, 70)]),
            (t0 + 3_600_000, false, [JournalDraft(.close, subscriber: a, session: 1, reason: "disconnected"),
                                     JournalDraft(.note, reason: "\(b) session 2: ended while qlinkd was down; its bytes after the last durable reading are lost"),
                                     JournalDraft(.close, subscriber: b, session: 2, reason: "left while qlinkd was down; bytes after its last durable reading are not known")]),
        ]
        for (index, (wall, trusted, drafts)) in batches.enumerated() {
            try writer.commit(drafts, at: JournalStamp(wall: wall, mono: UInt64(index), clockTrusted: trusted), nextSession: 3) { [] }
        }
        return (journal, "\(dir.path)/qlinkd.conf")
    }

    static func lines(_ path: String) throws -> [String] {
        String(decoding: try FileSystem.readFile(path), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Changes `"up":100,` to `"up":900,` in the first segment (its line 4, seq 4).
    static func tamper(_ journal: String) throws {
        let path = "\(journal)/\(firstSegment)"
        var text = try lines(path)
        text[3] = text[3].split(separator: "\"up\":100,", omittingEmptySubsequences: false).joined(separator: "\"up\":900,")
        try FileSystem.writeDurably(path, Array((text.joined(separator: "\n") + "\n").utf8))
    }

    @Test func showPrintsOneLineARecord() async throws {
        let dir = TemporaryDirectory()
        let (journal, _) = try Self.station(dir)
        let run = try await runCLI(["meter", "show", "--journal", journal])
        #expect(run.status == 0 && run.error.isEmpty)
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 8)  // 2 open, 3 usage, 2 close, 1 note (no header, no checkpoint)
        #expect(lines[2] == "2026-11-21 06:00:00         4  usage       mac:02:00:00:00:00:01          1  +100 B/+1.0 kB")
        #expect(lines[5].hasPrefix("2026-11-21 07:00:00") && lines[5].hasSuffix("disconnected  (clock untrusted)"))
        let all = try await runCLI(["meter", "show", "--journal", journal, "--type", "all"])
        #expect(all.output.split(separator: "\n").count == 12)
    }

    @Test func showFiltersAndPrintsTheLinesAsWritten() async throws {
        let dir = TemporaryDirectory()
        let (journal, _) = try Self.station(dir)
        let written = try Self.lines("\(journal)/\(Self.firstSegment)")
        let b = try await runCLI(["meter", "show", "--journal", journal, "--subscriber", "02:00:00:00:00:02", "--json"])
        #expect(b.status == 0)
        #expect(b.output == written.filter { $0.contains(Self.b) }.map { $0 + "\n" }.joined())
        let window = try await runCLI(["meter", "show", "--journal", journal, "--since", "2026-11-21T06:05:00Z", "--until", "2026-11-21T07:00Z",
                                       "--json", "--type", "usage"])
        #expect(window.output.split(separator: "\n").map { $0.contains("\"seq\":6,") || $0.contains("\"seq\":7,") } == [true, true])
        let none = try await runCLI(["meter", "show", "--journal", journal, "--until", "2026-11-20"])
        #expect(none.status == 0 && none.output.isEmpty)
    }

    @Test func summaryPerSubscriber() async throws {
        let dir = TemporaryDirectory()
        let (journal, _) = try Self.station(dir)
        let json = try await runCLI(["meter", "summary", "--journal", journal, "--json"])
        #expect(json.status == 0)
        #expect(json.output == #"[{"down_bytes":1500,"sessions":1,"subscriber":"mac:02:00:00:00:00:01","up_bytes":150},"#
            + #"{"down_bytes":70,"sessions":1,"subscriber":"mac:02:00:00:00:00:02","up_bytes":7}]"# + "\n")
        let human = try await runCLI(["meter", "summary", "--journal", journal])
        let lines = human.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "SUBSCRIBER                UP    DOWN  SESSIONS")
        #expect(lines[3] == "total                  157 B  1.6 kB         2")
        #expect(lines[5] == "bytes lost (not metered):")
        #expect(lines[6].hasPrefix("  seq 10: mac:02:00:00:00:00:02 session 2: ended while qlinkd was down"))
        let onlyA = try await runCLI(["meter", "summary", "--journal", journal, "--json", "--subscriber", Self.a, "--since", "2026-11-21T06:01:00Z"])
        #expect(onlyA.output == #"[{"down_bytes":500,"sessions":1,"subscriber":"mac:02:00:00:00:00:01","up_bytes":50}]"# + "\n")
    }

    @Test func damagedLinesAreNamedAndTheRestIsPrinted() async throws {
        let dir = TemporaryDirectory()
        let (journal, _) = try Self.station(dir)
        try Self.tamper(journal)
        for command in ["show", "summary", "export"] {
            let run = try await runCLI(["meter", command, "--journal", journal])
            #expect(run.status == 65, "\(command)")
            #expect(run.error.hasPrefix("qlinkctl: warning: \(Self.firstSegment):4: seq 4?: edited: its hash does not match its content\n"))
            #expect(run.error.contains("1 damaged line in the journal"))
            #expect(!run.output.isEmpty)
        }
    }

    @Test func verifyPinsTheStationKeyAndPassesAnIntactJournal() async throws {
        let dir = TemporaryDirectory()
        let (journal, config) = try Self.station(dir)
        let run = try await runCLI(["--config", config, "meter", "verify"])
        #expect(run.status == 0 && run.error.isEmpty)
        #expect(run.output.contains("key          pinned: \(dir.path)/state/station.key\n"))
        #expect(run.output.contains("records      12 (seq 1 to 12)\n"))
        #expect(run.output.contains("checkpoints  3\n"))
        #expect(run.output.hasSuffix("result       intact\n"))
        let unpinned = try await runCLI(["meter", "verify", "--journal", journal, "--json"])
        #expect(unpinned.status == 0)
        #expect(unpinned.output.contains(#""intact":true"#) && unpinned.output.contains(#""key_pinned":false"#))
        #expect(unpinned.output.contains(#""station":"\#(Self.key.publicKey)""#) && unpinned.output.contains(#""last_seq":12"#))
    }

    @Test func verifyNamesTheFirstBreakAndExitsOne() async throws {
        let dir = TemporaryDirectory()
        let (journal, config) = try Self.station(dir)
        try Self.tamper(journal)
        let run = try await runCLI(["meter", "verify", "--config", config])
        #expect(run.status == 1)
        #expect(run.error == "qlinkctl: journal broken at \(Self.firstSegment):4: seq 4: edited: its hash does not match its content\n")
        #expect(run.output.contains("result       BROKEN at \(Self.firstSegment):4"))
        let json = try await runCLI(["meter", "verify", "--journal", journal, "--json"])
        #expect(json.status == 1)
        #expect(json.output.contains(#""failure":{"line":4,"problem":"edited: its hash does not match its content","segment":"\#(Self.firstSegment)","seq":4}"#))
    }

    @Test func verifyCatchesAnotherStationsKey() async throws {
        let dir = TemporaryDirectory()
        let (_, config) = try Self.station(dir, key: Self.otherKey)
        let run = try await runCLI(["meter", "verify", "--config", config])
        #expect(run.status == 1)
        #expect(run.error.hasPrefix("qlinkctl: journal broken at \(Self.firstSegment):1: seq 1: written by another station"))
        // An unreadable key file: verified against the journal's own key, and said so.
        try dir.file("state/station.key", "not a key\n")
        let fallback = try await runCLI(["meter", "verify", "--config", config])
        #expect(fallback.status == 0)
        #expect(fallback.output.contains("the key in the journal's first header (not pinned: "))
    }

    @Test func exportCSVAndJSONLines() async throws {
        let dir = TemporaryDirectory()
        let (journal, _) = try Self.station(dir)
        let csv = try await runCLI(["meter", "export", "--journal", journal])
        #expect(csv.status == 0)
        #expect(csv.output.split(separator: "\n").map(String.init) == [
            "seq,time_utc,wall_ms,clock_trusted,subscriber,session,up_bytes,down_bytes,up_total,down_total",
            "4,2026-11-21T06:00:00.000Z,1795240800000,true,mac:02:00:00:00:00:01,1,100,1000,100,1000",
            "6,2026-11-21T06:05:00.000Z,1795241100000,true,mac:02:00:00:00:00:01,1,50,500,50,500",
            "7,2026-11-21T06:05:00.000Z,1795241100000,true,mac:02:00:00:00:00:02,2,7,70,7,70",
        ])
        let jsonl = try await runCLI(["meter", "export", "--journal", journal, "--format=jsonl", "--subscriber", Self.b])
        let written = try Self.lines("\(journal)/\(Self.firstSegment)")
        #expect(jsonl.output == written[6] + "\n")
        #expect(MeterText.csvField("plain") == "plain")
        #expect(MeterText.csvField("a,b") == "\"a,b\"")
        #expect(MeterText.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(MeterText.csvField("two\nlines") == "\"two\nlines\"")
        #expect(MeterText.csvField("cr\r\n") == "\"cr\r\n\"")
        #expect(MeterText.csvField("") == "")
    }

    @Test func chartIsWellFormedSVG() async throws {
        let dir = TemporaryDirectory()
        let (journal, _) = try Self.station(dir)
        let run = try await runCLI(["meter", "chart", "--journal", journal, "--bucket", "10m"])
        #expect(run.status == 0 && run.error.isEmpty)
        #expect(run.output.contains("Usage of all subscribers") && run.output.contains("per 10 min"))
        #expect(run.output.contains("down (to the subscriber)") && run.output.contains(">06:00<"))
        #expect(XMLCheck.problem(run.output) == nil)
        try expectXMLLint(run.output, in: dir.path)
        let file = "\(dir.path)/one.svg"
        let one = try await runCLI(["meter", "chart", "--journal", journal, "--subscriber", Self.b, "--since", "2026-11-21",
                                    "--until", "2026-11-21", "--output", file])
        #expect(one.status == 0 && one.output.isEmpty)
        let svg = String(decoding: try FileSystem.readFile(file), as: UTF8.self)
        #expect(svg.contains("Usage of mac:02:00:00:00:00:02") && svg.contains(">03:00<"))
        #expect(XMLCheck.problem(svg) == nil)
        try expectXMLLint(svg, in: dir.path)
        let empty = try await runCLI(["meter", "chart", "--journal", "\(dir.path)/state"])
        #expect(empty.status == 0 && empty.output.contains("no usage in this range"))
        try expectXMLLint(empty.output, in: dir.path)
    }

    @Test(arguments: [
        (["meter"], "'meter' needs a subcommand: show, summary, verify, export, chart"),
        (["meter", "bogus"], "unknown subcommand 'bogus' of 'meter' (one of: show, summary, verify, export, chart)"),
        (["meter", "show", "--since", "yesterday"], "--since needs a time such as 2026-11-21T06:00:00Z, 2026-11-21 or -2h, got 'yesterday'"),
        (["meter", "show", "--since", "-1h", "--until", "-2h"], "--since must be before --until"),
        (["meter", "show", "--subscriber", "bob"], "--subscriber needs mac:aa:bb:cc:dd:ee:ff or imsi:DIGITS, got 'bob'"),
        (["meter", "show", "--type", "usage,bytes"], "--type needs record types (header, open, usage, close, note, checkpoint) or all, got 'usage,bytes'"),
        (["meter", "export", "--format", "xml"], "--format is csv or jsonl, got 'xml'"),
        (["meter", "chart", "--bucket", "1s"], "--bucket needs a span from 10s to 366d such as 30s, 5m, 1h or 1d, got '1s'"),
        (["meter", "chart", "--json"], "'meter chart' has no --json output"),
        (["meter", "verify", "--bucket", "5m"], "unknown option '--bucket' for 'meter verify'"),
    ])
    func usageErrors(arguments: [String], message: String) async throws {
        let run = try await runCLI(arguments + ["--journal", "/tmp"])
        #expect(run.status == 64)
        #expect(run.error.hasPrefix("qlinkctl: \(message)\n"), "\(run.error)")
    }

    @Test func aMissingJournalOrConfigIsReported() async throws {
        let missing = try await runCLI(["meter", "show", "--journal", "/nonexistent/metering"])
        #expect(missing.status == 66 && missing.error.hasPrefix("qlinkctl: cannot read the journal: ") && missing.error.contains("/nonexistent/metering"))
        let noConfig = try await runCLI(["meter", "summary"])
        #expect(noConfig.status == 66 && noConfig.error.hasSuffix("; give --config FILE or --journal DIR\n"))
    }

    @Test func helpListsTheSubcommands() async throws {
        let run = try await runCLI(["help", "meter"])
        #expect(run.status == 0 && run.output.contains("  meter show [--journal DIR] [--subscriber ID]"))
        let show = try await runCLI(["meter", "show", "--help"])
        #expect(show.output.hasPrefix("usage: qlinkctl [--config FILE] meter show [--journal DIR]"))
        let full = try await runCLI(["--help"])
        #expect(full.output.contains("  meter SUBCOMMAND [OPTIONS]"))
    }
}

/// Runs `xmllint --noout` on `text` (libxml2-utils, installed by `board/install-deps.sh test`).
func expectXMLLint(_ text: String, in directory: String) throws {
    let xmllint = "/usr/bin/xmllint"
    try #require(FileSystem.exists(xmllint), "xmllint is missing: run board/install-deps.sh test (libxml2-utils)")
    let path = "\(directory)/lint-\(text.utf8.count).svg", log = "\(directory)/lint.log"
    try FileSystem.writeDurably(path, Array(text.utf8))
    let status = try Subprocess.spawn(xmllint, ["--noout", path], outputPath: log).wait()
    #expect(status == 0, "\(String(decoding: (try? FileSystem.readFile(log)) ?? [], as: UTF8.self))")
}

/// A strict well-formedness check of the XML the chart writes: one root, balanced tags,
/// quoted and unique attributes, only the predefined entities and character references.
enum XMLCheck {
    static func problem(_ text: String) -> String? {
        var rest = Substring(text)
        guard rest.hasPrefix("<?xml "), let end = rest.firstRange(of: "?>") else { return "no XML declaration" }
        rest = rest[end.upperBound...]
        var stack: [Substring] = [], roots = 0
        while let open = rest.firstIndex(of: "<") {
            if let problem = checkText(rest[..<open], inside: !stack.isEmpty) { return problem }
            guard let close = rest[open...].firstIndex(of: ">") else { return "unclosed tag" }
            var tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("/") {
                guard stack.popLast() == tag.dropFirst() else { return "mismatched </\(tag.dropFirst())>" }
                continue
            }
            let selfClosing = tag.hasSuffix("/")
            if selfClosing { tag = tag.dropLast() }
            let name = tag.prefix { !$0.isWhitespace }
            guard let first = name.first, first.isLetter, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_:.".contains($0) }) else {
                return "bad tag name '\(name)'"
            }
            if stack.isEmpty { roots += 1 }
            if let problem = checkAttributes(tag.dropFirst(name.count)) { return "<\(name)>: \(problem)" }
            if !selfClosing { stack.append(name) }
        }
        if let problem = checkText(rest, inside: false) { return problem }
        guard stack.isEmpty else { return "unclosed <\(stack.last!)>" }
        return roots == 1 ? nil : "\(roots) root elements"
    }

    private static func checkAttributes(_ text: Substring) -> String? {
        var rest = text, names: Set<Substring> = []
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.isEmpty { return nil }
            guard text.first?.isWhitespace == true, let equals = rest.firstIndex(of: "=") else { return "malformed attributes" }
            let name = rest[..<equals]
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_:".contains($0) }), names.insert(name).inserted else {
                return "bad or repeated attribute '\(name)'"
            }
            rest = rest[rest.index(after: equals)...]
            guard rest.first == "\"", let end = rest.dropFirst().firstIndex(of: "\"") else { return "unquoted value of \(name)" }
            let value = rest[rest.index(after: rest.startIndex)..<end]
            if value.contains("<") { return "'<' in the value of \(name)" }
            if let problem = checkText(value, inside: true) { return problem }
            rest = rest[rest.index(after: end)...]
            guard rest.isEmpty || rest.first!.isWhitespace else { return "no space after \(name)" }
        }
    }

    private static func checkText(_ text: Substring, inside: Bool) -> String? {
        if !inside && !text.allSatisfy(\.isWhitespace) { return "text outside the root: '\(text.prefix(20))'" }
        if text.contains(">") && text.contains("]]>") { return "']]>' in text" }
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            guard let semi = rest[amp...].firstIndex(of: ";") else { return "bare '&'" }
            let entity = rest[rest.index(after: amp)..<semi]
            let numeric = entity.hasPrefix("#") && entity.count > 1 && entity.dropFirst().allSatisfy(\.isNumber)
            guard numeric || ["amp", "lt", "gt", "quot", "apos"].contains(entity) else { return "unknown entity &\(entity);" }
            rest = rest[rest.index(after: semi)...]
        }
        return text.unicodeScalars.contains { $0.value < 0x20 && !["\t", "\n", "\r"].contains($0) } ? "control character" : nil
    }
}

@Suite struct SubcommandParsingTests {
    @Test func aSubcommandTakesItsOwnOptionsAndTheParentsBeforeIt() throws {
        let parsed = try Arguments.parse(["meter", "--journal", "/j", "show", "--since", "-2h", "--json", "--until=now"], commands: Command.all)
        #expect(parsed.command == "meter" && parsed.subcommand == "show")
        #expect(parsed.options == ["journal": "/j", "since": "-2h", "until": "now"])
        #expect(parsed.json && parsed.fullCommand == "meter show")
        #expect(Command.named("meter chart")?.fullName == "meter chart")
        #expect(Command.named("meter chart")?.needsDaemon == false)
        #expect(Command.named("meter nothing") == nil)
        let help = try Arguments.parse(["meter", "--help"], commands: Command.all)
        #expect(help.help && help.subcommand == nil)
    }
}
