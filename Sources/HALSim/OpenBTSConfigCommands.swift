/// OpenBTS 5's `config`, `unconfig` and `rmconfig` (CLI/CLIBase.cpp's configCmd, the
/// crossCheck of CLI/CLICommands.cpp, CommonLibs' printKey/printDescription) over the
/// emulated configuration database.
enum OpenBTSConfigCommands {
    typealias Status = OpenBTSCLI.Status

    /// `config`, `config PATTERN`, `config KEY VALUE...`; the cross-check (warnings, and the
    /// static-key notice) follows every form with an argument, as in OpenBTS.
    static func config(_ argv: [String], _ config: inout OpenBTSConfig, _ out: inout String) -> Status {
        defer { if argv.count > 1 { crossCheck(argv[1], config, &out) } }
        let schema = OpenBTSConfig.schema.sorted { $0.name < $1.name }
        if argv.count == 1 {
            for key in schema { out += printKey(key, config[key.name]) }
            return .success
        }
        let name = argv[1]
        if argv.count == 2 {
            if let key = OpenBTSConfig.key(name) {
                out += printKey(key, config[name]) + describe(key) + "\n"
            } else {
                let similar = schema.filter { $0.name.contains(name) }
                for key in similar { out += printKey(key, config[key.name]) }
                if similar.isEmpty { out += "\(name) - no keys matched, developer/factory keys can be accessed with \"devconfig\".\n" }
            }
            return .success
        }
        let value = argv.dropFirst(2).joined(separator: " ")
        guard let key = OpenBTSConfig.key(name) else {
            out += "\(name) is not a valid key, change failed. If you're trying to define a custom key/value pair "
                + "(e.g. the Log.Level.Filename.cpp pairs), use \"rawconfig\".\n"
            return .success
        }
        guard config.isValid(key, value) else {
            out += "\(name) new value \"\(value)\" is invalid, change failed.\n"
            return .success
        }
        let previous = config[name]
        guard value != previous else {
            out += "\(name) is already set to \"\(value)\", nothing changed\n"
            return .success
        }
        config.set(name, value)
        out += "\(name) changed from \"\(previous)\" to \"\(value)\"\n"
        return .success
    }

    /// `unconfig KEY`: an empty value, for keys that allow one.
    static func unconfig(_ argv: [String], _ config: inout OpenBTSConfig, _ out: inout String) -> Status {
        guard argv.count == 2 else { return .badNumArgs }
        guard let key = OpenBTSConfig.key(argv[1]) else { out += "\(argv[1]) is not in the table\n"; return .badValue }
        guard config.isValid(key, "") else { out += "\(key.name) is not disableable\n"; return .badValue }
        config.set(key.name, "")
        out += "\(key.name) disabled\n"
        return .success
    }

    /// `rmconfig KEY`: back to the default value.
    static func rmconfig(_ argv: [String], _ config: inout OpenBTSConfig, _ out: inout String) -> Status {
        guard argv.count == 2 else { return .badNumArgs }
        guard let key = OpenBTSConfig.key(argv[1]) else { out += "\(argv[1]) is not in the table\n"; return .badValue }
        config.set(key.name, key.defaultValue)
        out += "\(key.name) set back to its default value\n"
        for warning in config.warnings(for: key.name) { out += "WARNING: \(warning)\n" }
        if key.isStatic { out += "\(key.name) is static; change takes effect on restart\n" }
        return .success
    }

    static func crossCheck(_ name: String, _ config: OpenBTSConfig, _ out: inout String) {
        for warning in config.warnings(for: name) { out += "WARNING: \(warning)\n" }
        if OpenBTSConfig.key(name)?.isStatic == true { out += "\(name) is static; change takes effect on restart\n" }
    }

    /// `KEY VALUE`, `(disabled)` for an empty value, `     [default]` when it is the default.
    static func printKey(_ key: OpenBTSConfig.Key, _ value: String) -> String {
        "\(key.name) \(value.isEmpty ? "(disabled)" : value)\(value == key.defaultValue ? "     [default]" : "")\n"
    }

    static func describe(_ key: OpenBTSConfig.Key) -> String {
        var out = " - description:      \(key.description)\n"
        if key.name.contains("AttenDB") { out += " - units:            dB\n" }
        out += " - type:             \(key.type)\n"
        if !key.defaultValue.isEmpty { out += " - default value:    \(key.defaultValue)\n" }
        out += " - visibility level: \(key.visibility)\n"
        out += " - static:           \(key.isStatic ? 1 : 0)\n"
        switch key.validity {
        case .range(let low, let high): out += " - valid values:     from \(low) to \(high)\n"
        case .choice(let options): for option in options { out += " - valid values:     \(option)\n" }
        case .digits(let low, let high): out += " - valid val regex:  ^[0-9]{\(low == high ? "\(low)" : "\(low),\(high)")}$\n"
        case .boolean: out += " - valid values:     0 = disabled\n - valid values:     1 = enabled\n"
        case .regexOptional, .arfcn: break
        }
        return out
    }
}
