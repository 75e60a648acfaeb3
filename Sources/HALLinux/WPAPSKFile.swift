import HAL

/// hostapd's `wpa_psk_file`, edited line by line so that everything else in it survives.
///
/// hostapd 2.10 reads it with `fgets` into a 128-byte buffer: a line starting with `#` is a
/// comment; otherwise leading `name=value` tokens (`keyid=`, `vlanid=`; any other name makes
/// the whole file fail), then the station's MAC (`00:00:00:00:00:00` = any station), one
/// space, and the rest of the line is the passphrase (8..63 characters) or a 64-hex-digit
/// PSK. A file hostapd cannot read leaves it with no per-station keys at all after
/// `RELOAD_WPA_PSK`, so this type only ever writes lines hostapd accepts.
struct WPAPSKFile: Equatable, Sendable {
    enum Line: Equatable, Sendable {
        /// A key line for one station, kept as written.
        case entry(MACAddress, String)
        /// A comment, a blank line, or anything this type does not recognise, kept as written.
        case other(String)
    }

    private(set) var lines: [Line]

    /// The longest line hostapd reads whole (its buffer is 128 bytes with the newline and NUL).
    static let longestLine = 126

    init(parsing text: String) {
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" { parts.removeLast() }
        lines = parts.map(Self.classify)
    }

    /// The lines that give `station` a key.
    func entries(for station: MACAddress) -> [String] {
        lines.compactMap { if case .entry(let mac, let text) = $0, mac == station { text } else { nil } }
    }

    /// Replaces every key line of `station` with one for `passphrase` (in place of the first
    /// one, else at the end), or removes them all when `passphrase` is nil.
    mutating func setKey(for station: MACAddress, passphrase: String?, keyID: String?) throws(ValidationError) {
        var replacement: Line?
        if let passphrase {
            try Self.validate(passphrase: passphrase)
            if let keyID { try Self.validate(keyID: keyID) }
            let text = (keyID.map { "keyid=\($0) " } ?? "") + "\(station) \(passphrase)"
            guard text.utf8.count <= Self.longestLine else { throw ValidationError("the key line would be longer than hostapd reads (\(Self.longestLine) bytes)") }
            replacement = .entry(station, text)
        }
        var result: [Line] = []
        for line in lines {
            if case .entry(let mac, _) = line, mac == station {
                if let pending = replacement { result.append(pending); replacement = nil }
            } else {
                result.append(line)
            }
        }
        if let replacement { result.append(replacement) }
        lines = result
    }

    /// The file's text, one line each, ending in a newline.
    func render() -> String {
        lines.map { line in
            switch line {
            case .entry(_, let text), .other(let text): text
            }
        }.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }

    /// Throws unless hostapd would accept `passphrase`: 8..63 printable ASCII characters
    /// (space included), or exactly 64 hex digits (a raw PSK).
    static func validate(passphrase: String) throws(ValidationError) {
        let scalars = passphrase.unicodeScalars
        if scalars.count == 64 {
            guard scalars.allSatisfy({ $0.properties.isASCIIHexDigit }) else {
                throw ValidationError("a 64-character key must be 64 hex digits (a raw PSK); a passphrase has 8 to 63 characters")
            }
            return
        }
        guard (8...63).contains(scalars.count) else {
            throw ValidationError("a passphrase must have 8 to 63 printable ASCII characters (or be 64 hex digits); this one has \(scalars.count)")
        }
        if let bad = scalars.first(where: { !(0x20...0x7E).contains($0.value) }) {
            throw ValidationError("a passphrase may contain only printable ASCII characters; found U+\(String(bad.value, radix: 16, uppercase: true))")
        }
    }

    /// Throws unless hostapd would accept `keyID`: 1..31 printable ASCII characters, no spaces.
    static func validate(keyID: String) throws(ValidationError) {
        let scalars = keyID.unicodeScalars
        guard (1...31).contains(scalars.count) else {
            throw ValidationError("a key id must have 1 to 31 characters; this one has \(scalars.count)")
        }
        guard scalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw ValidationError("a key id may contain only printable ASCII characters other than space")
        }
    }

    struct ValidationError: Error, Equatable, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Reads a line the way hostapd does: options, then the MAC, then the key.
    private static func classify(_ text: String) -> Line {
        if text.hasPrefix("#") || text.isEmpty { return .other(text) }
        for token in text.split(separator: " ") {
            if token.contains("=") { continue }
            if let mac = MACAddress(token) { return .entry(mac, text) }
            return .other(text)
        }
        return .other(text)
    }
}
