/// Why an OpenBTS CLI message or reply could not be used.
struct OpenBTSProtocolError: Error, Equatable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// OpenBTS 5's CLI framing: every message, either way, is a 4-byte big-endian length and
/// then that many bytes of ASCII text (no NUL, no terminator).
enum OpenBTSFrame {
    /// The largest reply accepted; a longer length field means the stream is garbled.
    static let maximumReplyLength = 1 << 20
    /// The server reads the length bytes as signed chars and drops a command whose length
    /// byte is 128 or more, so every command must be shorter than this.
    static let maximumCommandLength = 127

    /// Frames `command`, refusing one OpenBTS would drop or misread.
    static func encode(_ command: String) throws(OpenBTSProtocolError) -> [UInt8] {
        let text = Array(command.utf8)
        guard !text.isEmpty else { throw OpenBTSProtocolError("empty command") }
        guard text.count <= maximumCommandLength else {
            throw OpenBTSProtocolError("command of \(text.count) bytes is longer than OpenBTS accepts (\(maximumCommandLength)): \(quoted(command))")
        }
        guard text.allSatisfy({ (0x20..<0x7f).contains($0) }) else {
            throw OpenBTSProtocolError("command has bytes that are not printable ASCII: \(quoted(command))")
        }
        let n = UInt32(text.count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + text
    }

    /// A reply shortened to its first line, for messages.
    static func quoted(_ text: some StringProtocol) -> String {
        let line = String(text).split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        return "\"" + (line.count > 80 ? String(line.prefix(80)) + "…" : line) + "\""
    }
}

/// Cuts a TCP byte stream into OpenBTS frames.
struct OpenBTSFrameDecoder {
    private var buffer: [UInt8] = []

    init() {}

    /// Bytes received and not yet part of a returned frame.
    var pendingByteCount: Int { buffer.count }

    mutating func append(_ bytes: [UInt8]) { buffer += bytes }

    /// The next whole frame's text, or nil if more bytes are needed. Throws when the stream
    /// cannot be OpenBTS's: a length over `maximumReplyLength`, or a NUL or non-ASCII byte.
    mutating func next() throws(OpenBTSProtocolError) -> String? {
        guard buffer.count >= 4 else { return nil }
        let length = buffer[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= OpenBTSFrame.maximumReplyLength else {
            throw OpenBTSProtocolError("frame length \(length) is over \(OpenBTSFrame.maximumReplyLength) bytes")
        }
        guard buffer.count >= 4 + length else { return nil }
        let body = buffer[4..<(4 + length)]
        if let bad = body.firstIndex(where: { $0 == 0 || $0 >= 0x80 }) {
            throw OpenBTSProtocolError("frame has a byte that is not ASCII text (0x\(String(body[bad], radix: 16)) at \(bad - 4))")
        }
        let text = String(decoding: body, as: UTF8.self)
        buffer.removeFirst(4 + length)
        return text
    }
}

/// What OpenBTS appends to a reply when a command fails.
enum OpenBTSReply {
    /// The error texts of OpenBTS's CLI parser (`CLIParser::errorCodeText`); some end in a
    /// newline, some do not.
    static let errors = ["command not found", "wrong number of arguments", "bad argument(s)",
                         "command failed", "too many arguments"]

    /// The error a reply ends with, and the text before it (lines joined with `; `); nil
    /// when the reply is no error.
    static func error(in reply: String) -> (error: String, detail: String)? {
        let trimmed = Substring(reply).trimmingSuffix(while: { $0 == "\n" || $0 == " " || $0 == "\r" })
        guard let error = errors.first(where: { trimmed.hasSuffix($0) }) else { return nil }
        let detail = trimmed.dropLast(error.count).split(separator: "\n")
            .map { $0.trimmingSuffix(while: { $0 == " " || $0 == "\r" }) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
        return (error, detail)
    }
}

/// `version`: `release 5.0-master+<git10> CommonLibs:<git10>+GPRS P built <date> `.
struct OpenBTSVersion: Equatable, Sendable {
    /// The word after `release`, e.g. `5.0-master+1a2b3c4d5e`.
    let release: String
    /// The whole first line, trimmed.
    let line: String

    init(parsing reply: String) throws(OpenBTSProtocolError) {
        let line = reply.split(separator: "\n").first.map { $0.trimmingSuffix(while: { $0 == " " || $0 == "\r" }) } ?? ""
        let words = line.split(separator: " ")
        guard words.count >= 2, words[0] == "release" else {
            throw OpenBTSProtocolError("version answered \(OpenBTSFrame.quoted(reply)), not \"release …\"")
        }
        release = String(words[1])
        self.line = String(line)
    }
}

/// `uptime`: `Unix time <n>` then `uptime <x> seconds|minutes|hours|days` (x printed with two
/// significant digits past 120 seconds, e.g. `2.5 hours` or `1.2e+02 minutes`).
struct OpenBTSUptime: Equatable, Sendable {
    let seconds: Double
    /// Half the last printed digit, in seconds: how far the true uptime may be from `seconds`.
    let uncertainty: Double

    /// Nil when the reply is not an uptime (an older OpenBTS without the command, an error).
    init?(parsing reply: String) {
        guard OpenBTSReply.error(in: reply) == nil,
              let line = reply.split(separator: "\n").first(where: { $0.hasPrefix("uptime ") }) else { return nil }
        let words = line.split(separator: " ")
        guard words.count >= 3, let value = Double(words[1]), value.isFinite, value >= 0 else { return nil }
        let unit: Double
        // OpenBTS 5 goes on with the frame number: `uptime 45 seconds, frame 0:9750`.
        switch words[2].trimmingSuffix(while: { $0 == "," }) {
        case "second", "seconds": unit = 1
        case "minute", "minutes": unit = 60
        case "hour", "hours": unit = 3600
        case "day", "days": unit = 86400
        default: return nil
        }
        seconds = value * unit
        uncertainty = max(Self.lastDigit(of: String(words[1])) * unit / 2, 1)
    }

    /// The value of one unit in the last printed digit of `number` (`2.5` → 0.1, `1.2e+02` → 10).
    static func lastDigit(of number: String) -> Double {
        let parts = number.lowercased().split(separator: "e", maxSplits: 1)
        let mantissa = parts.first ?? ""
        let decimals = mantissa.split(separator: ".", maxSplits: 1).dropFirst().first?.count ?? 0
        var digit = 1.0
        for _ in 0..<decimals { digit /= 10 }
        if parts.count == 2, let exponent = Int(parts[1]) {
            for _ in 0..<abs(exponent) { digit = exponent > 0 ? digit * 10 : digit / 10 }
        }
        return digit
    }
}

/// A reply to `config KEY VALUE`.
enum OpenBTSConfigReply: Equatable, Sendable {
    /// `KEY changed from "a" to "b"` or `KEY defined to "b"`; `isStatic` when OpenBTS adds
    /// `KEY is static; change takes effect on restart`.
    case changed(from: String?, to: String, isStatic: Bool)
    /// The key already had that value (`KEY is already set to "b", nothing changed`).
    case unchanged

    /// Reads the reply for `key`; extra lines (warnings) are ignored. Throws for a reply
    /// with none of the expected lines (errors are found by `OpenBTSReply.error` first).
    init(parsing reply: String, key: String) throws(OpenBTSProtocolError) {
        let lines = reply.split(separator: "\n").map { $0.trimmingSuffix(while: { $0 == " " || $0 == "\r" }) }
        let isStatic = lines.contains { $0 == "\(key) is static; change takes effect on restart" }
        for line in lines {
            if line.hasPrefix("\(key) changed from \""), let values = Self.quotedValues(line), values.count == 2 {
                self = values[0] == values[1] ? .unchanged : .changed(from: values[0], to: values[1], isStatic: isStatic)
                return
            }
            if line.hasPrefix("\(key) defined to \""), let values = Self.quotedValues(line), values.count == 1 {
                self = .changed(from: nil, to: values[0], isStatic: isStatic)
                return
            }
            if line.hasPrefix("\(key) is already set to") {
                self = .unchanged
                return
            }
        }
        throw OpenBTSProtocolError("config \(key) answered \(OpenBTSFrame.quoted(reply)), not \"\(key) changed from …\"")
    }

    /// The "…"-quoted values in `line`.
    static func quotedValues(_ line: Substring) -> [String]? {
        let parts = line.split(separator: "\"", omittingEmptySubsequences: false)
        guard parts.count % 2 == 1 else { return nil }
        return stride(from: 1, to: parts.count, by: 2).map { String(parts[$0]) }
    }
}

/// A reply to `power [atten]`: `current downlink power -10 dB wrt full scale`.
enum OpenBTSPowerReply {
    /// The downlink power in dB relative to full scale (≤ 0: minus the attenuation).
    static func parse(_ reply: String) throws(OpenBTSProtocolError) -> Double {
        let prefix = "current downlink power "
        for line in reply.split(separator: "\n") where line.hasPrefix(prefix) {
            let words = line.dropFirst(prefix.count).split(separator: " ")
            if words.count >= 2, words[1] == "dB", let value = Double(words[0]), value.isFinite { return value }
        }
        throw OpenBTSProtocolError("power answered \(OpenBTSFrame.quoted(reply)), not \"current downlink power <n> dB wrt full scale\"")
    }
}

/// One MS record of OpenBTS's `gprs list`:
///
/// ```
///  MS#1,TLLI=c001f001,78428eca rrmode=PacketIdle Bytes:53495up/139441down Utilization=0%
/// 	 GMM Context: imsi=901550000000022 ptmsi=0x1f001 tlli=0xc001f001 state=GmmRegisteredNormal age=111 idle=5 IPs=192.168.99.4
/// ```
///
/// `Bytes:` counts what went through this MS record since OpenBTS created it (`up` = from the
/// phone). One IMSI can have several records (a new TLLI makes a new one).
struct OpenBTSMSRecord: Equatable, Sendable {
    /// `MS#1`: the record's number, unique within one OpenBTS process.
    let id: String
    let upBytes: UInt64
    let downBytes: UInt64
    /// The GMM context line under the record, when the MS has one.
    var context: OpenBTSGMMContext?
}

/// The `GMM Context:` line of an MS record: the SGSN's view of the subscriber.
struct OpenBTSGMMContext: Equatable, Sendable {
    let imsi: String
    /// `GmmRegisteredNormal` (or `GmmRegisteredSuspsended`, OpenBTS's spelling) when
    /// attached; `GmmDeregistered` or `GmmRegistrationPending` on the way in or out.
    let state: String
    /// `age=` (seconds since the context was made), when given.
    let ageSeconds: UInt64?
    /// The first of `IPs=`, when given.
    let ipAddress: String?

    /// Whether the subscriber is GPRS-attached.
    var isRegistered: Bool { state == "GmmRegisteredNormal" || state == "GmmRegisteredSuspsended" }

    /// Whether the subscriber detached (a context on its way in is `GmmRegistrationPending`).
    var isDeregistered: Bool { state == "GmmDeregistered" }
}

/// Parses the reply to `gprs list`.
enum OpenBTSGPRSList {
    /// Every MS record in `reply`, each with the GMM context line that follows it. Lines that
    /// are neither an MS record nor a GMM context are ignored (headers, TBF lines, messages
    /// such as an empty list's); a record or context line that is malformed throws, as the
    /// reply cannot then be trusted for billing.
    static func parse(_ reply: String) throws(OpenBTSProtocolError) -> [OpenBTSMSRecord] {
        var records: [OpenBTSMSRecord] = []
        for rawLine in reply.split(separator: "\n") {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }.trimmingSuffix(while: { $0 == " " || $0 == "\r" || $0 == "\t" })
            if line.hasPrefix("MS#") {
                records.append(try record(line))
            } else if line.hasPrefix("GMM Context:") {
                let context = try gmmContext(line)
                guard !records.isEmpty else {
                    throw OpenBTSProtocolError("gprs list: a GMM context before any MS record: \(OpenBTSFrame.quoted(line))")
                }
                if records[records.count - 1].context == nil { records[records.count - 1].context = context }
            }
        }
        return records
    }

    /// ` MS#1,TLLI=c001f001,78428eca rrmode=PacketIdle Bytes:53495up/139441down Utilization=0%`
    static func record(_ line: Substring) throws(OpenBTSProtocolError) -> OpenBTSMSRecord {
        let words = line.split(separator: " ")
        let id = words[0].split(separator: ",").first.map(String.init) ?? ""
        guard id.count > 3, id.dropFirst(3).allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw OpenBTSProtocolError("gprs list: bad MS record \(OpenBTSFrame.quoted(line))")
        }
        guard let bytes = words.first(where: { $0.hasPrefix("Bytes:") }) else {
            throw OpenBTSProtocolError("gprs list: MS record without Bytes: \(OpenBTSFrame.quoted(line))")
        }
        let halves = bytes.dropFirst("Bytes:".count).split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, halves[0].hasSuffix("up"), halves[1].hasSuffix("down"),
              let up = UInt64(halves[0].dropLast(2)), let down = UInt64(halves[1].dropLast(4)) else {
            throw OpenBTSProtocolError("gprs list: bad byte counts \(OpenBTSFrame.quoted(bytes)) in \(id)")
        }
        return OpenBTSMSRecord(id: id, upBytes: up, downBytes: down, context: nil)
    }

    /// `GMM Context: imsi=901550000000022 ptmsi=0x1f001 tlli=0xc001f001 state=GmmRegisteredNormal age=111 idle=5 IPs=192.168.99.4`
    static func gmmContext(_ line: Substring) throws(OpenBTSProtocolError) -> OpenBTSGMMContext {
        var fields: [Substring: Substring] = [:]
        for word in line.dropFirst("GMM Context:".count).split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { continue }
            fields[word[..<equals]] = word[word.index(after: equals)...]
        }
        guard let imsi = fields["imsi"], (1...15).contains(imsi.count), imsi.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw OpenBTSProtocolError("gprs list: GMM context without a valid imsi= \(OpenBTSFrame.quoted(line))")
        }
        guard let state = fields["state"], !state.isEmpty else {
            throw OpenBTSProtocolError("gprs list: GMM context without state= \(OpenBTSFrame.quoted(line))")
        }
        let ip = fields["IPs"].flatMap { $0.split(separator: ",").first }.map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        return OpenBTSGMMContext(imsi: String(imsi), state: String(state),
                                 ageSeconds: fields["age"].flatMap { UInt64($0) }, ipAddress: ip)
    }
}
