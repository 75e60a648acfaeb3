#if canImport(Glibc)
import Glibc
#endif

/// The text of OpenBTS 5's CLI replies, written from its own sources (CLI/CLICommands.cpp,
/// CLI/CLIBase.cpp, Control/TMSITable.cpp, GPRS/MSInfo.cpp, SGSNGGSN/Sgsn.cpp and
/// CommonLibs' printPrettyTable), never from a client's parser.
enum OpenBTSFormats {
    /// `version`: gVersionString ("release " VERSION "+" REPO_REV FEATURES " built " TIMESTAMP " ").
    static let version = "release 5.0-master+7766ef94f2 CommonLibs:76b71d509b+GPRS P built 2016-09-02T18:41:39 "

    /// The help text the CLI prints before `wrong number of arguments` (first lines only).
    static let help: [String: String] = [
        "version": "-- print the version string.",
        "uptime": "-- show BTS uptime and BTS frame number.",
        "tmsis": "[-a | -l | -ll | -r | -tab | clear | dump [-l] <filename> | delete -tmsi <tmsi> | delete -imsi <imsi> | query <query> set name=value] -- print the TMSI table",
        "chans": "[-a -l -tab] -- report PHY status for active channels",
        "gprs": "GPRS mode sub-command.  Type: 'gprs help' for more.",
        "sgsn": "SGSN mode sub-command.  Type: 'sgsn help' for more.",
        "power": "[atten] -- report or set current output power attentuation.",
        "config": "[] OR [patt] OR [key val(s)] -- print the current configuration, print configuration values matching a pattern, or set/change a configuration value.",
        "unconfig": "key -- disable a configuration key by setting an empty value.",
        "rmconfig": "key -- set a configuration value back to its default or remove a custom key/value pair.",
    ]

    static let gprsHelp = """
        gprs sub-commands to control GPRS radio mode.  Syntax: gprs subcommand <options...>
        subcommands are:
        \tlist [ms|tbf|ch] [-v] [-x] [-c] [id]  # list active objects of specified type;
        \t\t -v => verbose; -c => include MS Capabilities -x => list expired rather than active
        Notes:
          Downlink utilization averaged over 5 seconds; 1.0 means full utilization;
          2.0 means downlink requests exceeds available bandwidth by 2x, etc.

        """

    static let sgsnHelp = """
        sgsn sub-commands to control SGSN/GGSN sub-system.  Syntax: sgsn subcommand <options...>
        subcommands are:
        \tlist  [(imsi|tlli) id]  # list all or specified MS
        \tfree (imsi|tlli) id     # Delete something
        \thelp                  # print this help

        """

    /// CommonLibs' printPrettyTable: every cell left-aligned to its column's width (at most
    /// 100) plus one space, `_` printed as empty, a newline per row and one more at the end;
    /// with `tabs`, cells separated by tabs instead.
    static func prettyTable(_ rows: [[String]], tabs: Bool) -> String {
        var widths = [Int](repeating: 0, count: 30)
        if !tabs {
            for row in rows { for (column, cell) in row.prefix(30).enumerated() { widths[column] = max(widths[column], min(100, cell.utf8.count)) } }
        }
        var out = ""
        for row in rows {
            for (column, cell) in row.prefix(30).enumerated() {
                let value = cell == "_" ? "" : cell
                if tabs {
                    out += (column > 0 ? "\t" : "") + value
                } else {
                    out += value + String(repeating: " ", count: max(0, widths[column] - value.utf8.count)) + " "
                }
            }
            out += "\n"
        }
        return out + "\n"
    }

    /// TMSITable's prettyAge: seconds, minutes, hours or days, low precision.
    static func prettyAge(_ seconds: Int) -> String {
        let seconds = max(0, seconds)
        if seconds < 5 * 60 { return "\(seconds)s" }
        let minutes = (seconds + 30) / 60
        if minutes < 5 * 60 { return "\(minutes)m" }
        let hours = (minutes + 30) / 60
        if hours < 5 * 24 { return "\(hours)h" }
        return "\((hours + 12) / 24)d"
    }

    /// A C++ stream's default float formatting with precision 2 (printf `%.2g`).
    static func precision2(_ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.2g", $0) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Timeval::isoTime in local time: `YYYY-MM-DDTHH:MM:SS`.
    static func localISOTime(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    /// `uptime` for a radio up for `seconds` (GSM frames of 4.615 ms; the hyperframe wraps).
    static func uptime(seconds: Int, wallSeconds: Int64) -> String {
        let frame = Int(Double(seconds) * 1000 / 4.615) % 2_715_648
        var out = "Local time \(wallSeconds), \(localISOTime(wallSeconds))\nwatchdog timer expires in 0 minutes\n"
        let minutes = Double(seconds) / 60, hours = minutes / 60
        if seconds < 120 { out += "uptime \(seconds) seconds" }
        else if minutes < 120 { out += "uptime \(precision2(minutes)) minutes" }
        else if hours < 48 { out += "uptime \(precision2(hours)) hours" }
        else { out += "uptime \(precision2(hours / 24)) days" }
        return out + ", frame 0:\(frame)\n"
    }

    static func hex(_ value: UInt32) -> String { String(value, radix: 16) }

    /// One MS record of `gprs list` (MSInfo::msDump, not verbose) with its GMM context line
    /// (none once the SGSN freed the context), signal quality and statistics lines.
    static func msRecord(_ ue: UESnapshot?, _ record: UESnapshot.Record, idle: Int) -> String {
        var id = " MS#\(record.debugID),TLLI=\(hex(record.tlli))"
        if let old = record.oldTLLI { id += ",\(hex(old))" }
        let blocks = Int((record.upBytes + record.downBytes) / 20)
        return id + " rrmode=PacketIdle Bytes:\(record.upBytes)up/\(record.downBytes)down Utilization=0%\n"
            + (ue.map { "\t" + gmmContext($0, idle: idle, msID: nil) } ?? "")
            + "\t TimingError=(0.00) RSSI=(-48.00) CV=(0.00) ILev=(0.00) RXQual=(0.00) SigVar=(0.00) ChCoding=(1)\n"
            + "\t dataER:0% (\(blocks)) recent:0% (\(min(blocks, 120))) tbfER:0% (\(max(1, blocks / 50)))\n"
            + "\t rrbpER:0% (\(max(1, blocks / 10))) recent:0% (0) ccchER:0% (1) recent:0% (0)\n"
    }

    /// SGSN's gmmInfoDump: ` GMM Context: imsi=… ptmsi=0x… tlli=0x… state=… age=… idle=…[ MS#…] IPs=…`.
    static func gmmContext(_ ue: UESnapshot, idle: Int, msID: String?) -> String {
        " GMM Context: imsi=\(ue.imsi) ptmsi=0x\(hex(ue.ptmsi)) tlli=0x\(hex(ue.tlli)) state=\(ue.gmmState)"
            + " age=\(ue.ageSeconds) idle=\(idle)\(msID ?? "") IPs=\(ue.ip)\n"
    }

    /// `tmsis` rows (Control/TMSITable.cpp's tmsiTabView), newest access first.
    static func tmsiTable(_ entries: [TMSIEntry], now: Double, verbosity: Int, all: Bool) -> [[String]] {
        var header = ["IMSI", "TMSI", "IMEI", "AUTH", "CREATED", "ACCESSED", "TMSI_ASSIGNED"]
        if verbosity >= 1 { header += ["PTMSI_ASSIGNED", "AUTH_EXPIRY", "REJECT_CODE", "ASSOCIATED_URI", "ASSERTED_IDENTITY", "WELCOME_SENT"] }
        if verbosity >= 2 { header += ["A5_SUPPORT", "POWER_CLASS", "RRLP_STATUS", "OLD_TMSI", "OLD_MCC", "OLD_MNC", "OLD_LAC"] }
        let maxRows = all ? 10_000_000 : 100
        var rows = [header]
        for entry in entries.reversed().prefix(maxRows - 1) {
            var row = [entry.imsi, entry.tmsi.map { "0x" + hex($0) } ?? "-", "", String(entry.auth),
                       prettyAge(Int(now - entry.created)), prettyAge(Int(now - entry.accessed)), entry.tmsi == nil ? "0" : "1"]
            if verbosity >= 1 { row += ["0", "-", entry.auth == 0 ? "4" : "0", "", "", "0"] }
            if verbosity >= 2 { row += ["0", "0", "0", "0", "", "", ""] }
            rows.append(row)
        }
        if rows.count >= maxRows { rows.append(["..."]) }
        return rows
    }

    /// `chans` (printChansV4, short form): one row per SDCCH a location update holds.
    static func channelTable(_ ues: [UESnapshot], now: Double) -> [[String]] {
        var rows = [["CN", "TN", "chan", "transaction", "Signal", "SNR", "FER", "TA", "TXPWR", "RXLEV_DL", "BER_DL", "Time", "IMSI"],
                    ["_", "_", "type", "id", "dB", "_", "pct", "sym", "dBm", "dBm", "pct", "_", "_"]]
        for ue in ues where ue.onChannel {
            let seconds = Int(ue.ageSeconds)
            rows.append(["0", "0", "SDCCH/4-\(ue.sdcch % 4)", "T\(ue.transaction)", "11  ", "22.5", "0.00 ", "1.0", "5    ",
                         "-61  ", "0.00 ", "\(seconds / 60):\(seconds % 60)", ue.imsi])
        }
        return rows
    }
}
