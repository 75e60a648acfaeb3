/// OpenBTS 5's CLI command interpreter (CLI/CLI.cpp's Parser::process and the commands of
/// CLI/CLICommands.cpp, CLI/CLIBase.cpp, GPRS/GPRSCLI.cpp and SGSNGGSN/SgsnCli.cpp) over the
/// world's state: one command line in, the reply text out, with OpenBTS's standard error
/// lines appended as it appends them.
enum OpenBTSCLI {
    enum Status: Int {
        case success = 0, badNumArgs = 1, badValue = 2, notFound = 3, failure = 5

        /// Parser::process appends these to the reply.
        var line: String? {
            switch self {
            case .success: nil
            case .badNumArgs: "wrong number of arguments\n"
            case .badValue: "bad argument(s)\n"
            case .notFound: "command not found\n"
            case .failure: "command failed\n"
            }
        }
    }

    /// Runs `line` (one frame's text) and returns the whole reply.
    static func execute(_ line: String, in s: inout WorldState, wallSeconds: Int64) -> String {
        var out = ""
        // The command is a C string: it ends at the first NUL.
        let text = String(line.prefix { $0 != "\0" })
        let status: Status
        switch tokenize(text) {
        case .failure(let message):
            out = message.text
            status = .failure
        case .success(let argv):
            status = argv.isEmpty ? .success : run(argv, &s, wallSeconds, &out)
            if status == .badNumArgs, let name = argv.first { out += (OpenBTSFormats.help[name] ?? "no help available") + "\n" }
        }
        return out + (status.line ?? "")
    }

    /// Splits on single spaces (runs of spaces are skipped; tabs and newlines are ordinary
    /// characters), a `"quoted string"` being one argument.
    static func tokenize(_ line: String) -> Result<[String], ParseMessage> {
        var argv: [String] = []
        var rest = Substring(line)
        while true {
            rest = rest.drop { $0 == " " }
            guard let first = rest.first else { break }
            if first == "\"" {
                rest = rest.dropFirst()
                guard let end = rest.firstIndex(of: "\"") else { return .failure(ParseMessage("error: Missing quote.\n")) }
                let after = rest.index(after: end)
                guard after == rest.endIndex || rest[after] == " " else { return .failure(ParseMessage("error: Embedded quotes not allowed.\n")) }
                argv.append(String(rest[..<end]))
                rest = rest[after...]
            } else {
                let word = rest.prefix { $0 != " " }
                argv.append(String(word))
                rest = rest.dropFirst(word.count)
            }
        }
        return .success(argv)
    }

    struct ParseMessage: Error { let text: String; init(_ text: String) { self.text = text } }

    private static func run(_ argv: [String], _ s: inout WorldState, _ wall: Int64, _ out: inout String) -> Status {
        let argc = argv.count
        switch argv[0] {
        case "version":
            guard argc == 1 else { return .badNumArgs }
            out += OpenBTSFormats.version + "\n"
        case "uptime":
            guard argc == 1 else { return .badNumArgs }
            out += OpenBTSFormats.uptime(seconds: Int(s.realTime - s.radio.startedAt), wallSeconds: wall)
        case "tmsis": return tmsis(argv, &s, &out)
        case "chans":
            guard case .success(let (options, rest)) = cliParse(argv, "-a -l -d -tab", &out) else { return .success }
            guard rest.isEmpty else { return .badNumArgs }
            out += OpenBTSFormats.prettyTable(OpenBTSFormats.channelTable(s.ueSnapshots(), now: s.realTime), tabs: options.keys.contains("-tab"))
        case "gprs": return gprs(argv, s, &out)
        case "sgsn": return sgsn(argv, &s, &out)
        case "power":
            guard argc <= 3 else { return .badNumArgs }
            if argc > 1 {
                let atten = atoi(argv[1])
                guard atten >= 0 else { out += "power value(s) are attenuation and must not be negative\n"; return .badValue }
                guard atten <= 80 else { out += "Invalid new value for atten.  It must be in range (0:80)\n"; return .badValue }
                s.radio.config.set(OpenBTSConfig.minAtten, String(atten))
                s.radio.config.set(OpenBTSConfig.maxAtten, String(atten))
            }
            out += "current downlink power \(-s.radio.config.attenuation) dB wrt full scale\n"
        case "config": return OpenBTSConfigCommands.config(argv, &s.radio.config, &out)
        case "unconfig": return OpenBTSConfigCommands.unconfig(argv, &s.radio.config, &out)
        case "rmconfig": return OpenBTSConfigCommands.rmconfig(argv, &s.radio.config, &out)
        default: return .notFound
        }
        return .success
    }

    /// CLI.cpp's cliParse: leading options from `optstring` (`x:` takes an argument); the
    /// first non-option ends them; an unknown `-x` is an error printed as the whole reply.
    static func cliParse(_ argv: [String], _ optstring: String, _ out: inout String) -> Result<([String: String], [String]), ParseMessage> {
        let known = optstring.split(separator: " ")
        var options: [String: String] = [:]
        var rest = argv.dropFirst()
        while let arg = rest.first {
            if arg.contains(":") { break }
            if known.contains(Substring(arg)) {
                options[arg] = "true"
                rest = rest.dropFirst()
            } else if known.contains(Substring(arg + ":")) {
                rest = rest.dropFirst()
                guard let value = rest.first else { out += "expected argument after: \(arg)\n"; return .failure(ParseMessage("")) }
                options[arg] = value
                rest = rest.dropFirst()
            } else {
                if arg.hasPrefix("-") { out += "unrecognized argument: \(arg)\n"; return .failure(ParseMessage("")) }
                break
            }
        }
        return .success((options, Array(rest)))
    }

    /// C's atoi: optional sign and leading digits, else 0.
    static func atoi(_ text: String) -> Int {
        var rest = Substring(text).drop { $0 == " " }
        var sign = 1
        if let first = rest.first, first == "-" || first == "+" { sign = first == "-" ? -1 : 1; rest = rest.dropFirst() }
        return sign * (Int(rest.prefix { $0.isASCII && $0.isNumber }.prefix(9)) ?? 0)
    }

    private static func tmsis(_ argv: [String], _ s: inout WorldState, _ out: inout String) -> Status {
        guard case .success(let (options, rest)) = cliParse(argv, "-a -l -ll -r -tab dump: clear delete -imsi: -tmsi: query: set:", &out)
        else { return .success }
        guard rest.isEmpty else { return .badNumArgs }
        if options["clear"] != nil {
            out += "clearing TMSI table\n"
            s.radio.tmsis.removeAll()
        } else if options["delete"] != nil {
            if let tmsiText = options["-tmsi"] {
                let tmsi = UInt32(tmsiText.hasPrefix("0x") ? tmsiText.dropFirst(2) : Substring(tmsiText), radix: tmsiText.hasPrefix("0x") ? 16 : 10) ?? 0
                if let entry = s.radio.tmsis.first(where: { $0.tmsi == tmsi && tmsi != 0 }) {
                    _ = s.detachUE(imsi: entry.imsi)
                    s.radio.deleteTMSI(entry.imsi)
                }
                out += "Deleted TMSI table entry for 0x\(OpenBTSFormats.hex(tmsi))\n"
            } else if var imsi = options["-imsi"] {
                if imsi.hasPrefix("IMSI") { imsi.removeFirst(4) }
                _ = s.detachUE(imsi: imsi)
                s.radio.deleteTMSI(imsi)
                out += "Deleted TMSI table entry for \(imsi)\n"
            } else {
                out += "expecting: -tmsi or -imsi option\n"
                return .failure
            }
        } else if options["dump"] != nil || options["query"] != nil || options["set"] != nil {
            return .failure   // not emulated
        } else {
            let verbosity = options["-ll"] != nil ? 2 : options["-l"] != nil ? 1 : 0
            let rows = OpenBTSFormats.tmsiTable(s.radio.tmsis, now: s.realTime, verbosity: verbosity, all: options["-a"] != nil)
            out += OpenBTSFormats.prettyTable(rows, tabs: options["-tab"] != nil)
        }
        return .success
    }

    /// How long (real seconds) an attached UE has been idle: a few seconds at most.
    static func idle(_ ue: UESnapshot, _ s: WorldState) -> Int {
        Int(SimRandom.hashUnit(UInt64(ue.ptmsi), UInt64(max(0, s.realTime))) * 4)
    }

    private static func gprs(_ argv: [String], _ s: WorldState, _ out: inout String) -> Status {
        guard argv.count > 1 else { out += OpenBTSFormats.gprsHelp; return .badNumArgs }
        switch argv[1].lowercased() {
        case "list":
            var listMS = false, listTBF = false, listChannels = false, id: Int?
            for arg in argv.dropFirst(2) {
                switch arg {
                case _ where arg.hasPrefix("ch"): listChannels = true
                case _ where arg.hasPrefix("tbf"): listTBF = true
                case _ where arg.hasPrefix("ms"): listMS = true
                case _ where arg.hasPrefix("-v") || arg.hasPrefix("-c") || arg.hasPrefix("-x") || arg.hasPrefix("-a"): break
                case _ where arg.first?.isNumber == true && id == nil: id = atoi(arg)
                default: out += "oops! unrecognized arg:\(arg)\n"; return .success
                }
            }
            let all = !(listMS || listTBF || listChannels)
            if (all || listMS) && s.radioAvailable {
                for (ue, record) in s.listedMSRecords() where id == nil || id == record.debugID {
                    out += OpenBTSFormats.msRecord(ue, record, idle: ue.map { idle($0, s) } ?? 0)
                }
            }
            if (all || listChannels) && s.radioAvailable {
                let c0 = s.radio.config.running[OpenBTSConfig.c0] ?? "51"
                out += " PDCH ARFCN=\(c0) TN=1 FER=0%\n PDCH ARFCN=\(c0) TN=2 FER=0%\n"
            }
        case "help":
            out += OpenBTSFormats.gprsHelp
        default:
            out += "gprs: unrecognized sub-command: \(argv[1])\n" + OpenBTSFormats.gprsHelp
            return .badValue
        }
        return .success
    }

    private static func sgsn(_ argv: [String], _ s: inout WorldState, _ out: inout String) -> Status {
        guard argv.count > 1 else { out += OpenBTSFormats.sgsnHelp; return .success }
        let what = argv.count > 2 ? argv[2] : nil, id = argv.count > 3 ? argv[3] : nil
        /// sgsnCliFind by IMSI; an error is printed as `sgsn:<message>` and is no CLI failure.
        func find() -> UESnapshot? {
            guard let what, let id else { out += "sgsn:wrong number of arguments\n"; return nil }
            guard what.hasPrefix("imsi") else {
                out += what.hasPrefix("tlli") ? "sgsn:SGSN record for tlli \(id) not found.\n" : "sgsn:unrecognized argument: \(what)\n"
                return nil
            }
            guard id.allSatisfy({ $0.isASCII && $0.isNumber }) else { out += "sgsn:invalid imsi: \(id)\n"; return nil }
            guard let ue = s.gmmContexts().first(where: { $0.imsi == id }) else {
                out += "sgsn:SGSN record for imsi '\(id)' not found\n"
                return nil
            }
            return ue
        }
        switch argv[1].lowercased() {
        case "list":
            let ues: [UESnapshot]
            if what == nil { ues = s.gmmContexts() } else if let ue = find() { ues = [ue] } else { return .success }
            for ue in ues {
                let ms = ue.records.last.map { " MS#\($0.debugID),TLLI=\(OpenBTSFormats.hex($0.tlli))" }
                out += OpenBTSFormats.gmmContext(ue, idle: idle(ue, s), msID: ms) + (what == nil ? "\n" : "")
            }
        case "free":
            guard id != nil else { out += "sgsn:wrong number of arguments\n"; return .success }
            if let ue = find(), !s.detachUE(imsi: ue.imsi) { s.radio.freeContext(ue.imsi) }
        case "help":
            out += OpenBTSFormats.sgsnHelp
        default:
            out += "sgsn: unrecognized sub-command: \(argv[1])\n"
            return .badValue
        }
        return .success
    }
}
