/// The part of OpenBTS 5's configuration database (`/etc/OpenBTS/OpenBTS.db`) that hal-sim
/// emulates: the keys a base-station daemon touches, their schema (default, validity,
/// static or not) as OpenBTS's `apps/GetConfigurationKeys.cpp` defines them, and the
/// values stored now.
///
/// Values change at once; a static key's new value reaches the running radio only after a
/// radio restart (`running`).
struct OpenBTSConfig: Sendable, Equatable {
    enum Validity: Sendable, Equatable {
        /// A whole number in min...max.
        case range(Int, Int)
        case choice([String])
        /// Matches `^[0-9]{n,m}$`.
        case digits(Int, Int)
        /// A POSIX extended regular expression, or empty (disabled).
        case regexOptional
        /// An ARFCN of the band configured now.
        case arfcn
        case boolean
    }

    struct Key: Sendable, Equatable {
        let name: String
        let defaultValue: String
        let isStatic: Bool
        let validity: Validity
        let type: String
        let visibility: String
        let description: String
    }

    static let c0 = "GSM.Radio.C0"
    static let band = "GSM.Radio.Band"
    static let mcc = "GSM.Identity.MCC"
    static let mnc = "GSM.Identity.MNC"
    static let lac = "GSM.Identity.LAC"
    static let ci = "GSM.Identity.CI"
    static let maxAtten = "GSM.Radio.PowerManager.MaxAttenDB"
    static let minAtten = "GSM.Radio.PowerManager.MinAttenDB"
    static let openRegistration = "Control.LUR.OpenRegistration"
    static let openRegistrationReject = "Control.LUR.OpenRegistration.Reject"
    static let gprsEnable = "GPRS.Enable"
    static let msIdle = "GPRS.Timers.MS.Idle"

    /// The schema, in the order `config` lists it (OpenBTS lists its map sorted by name).
    static let schema: [Key] = [
        Key(name: openRegistration, defaultValue: "", isStatic: false, validity: .regexOptional, type: "regular expression",
            visibility: "customer - warning - a warning will be given to the user if this key is changed",
            description: "This value is a regular expression.  Any handset with an IMSI matching the regular expression is allowed to register, even if it is not provisioned."),
        Key(name: openRegistrationReject, defaultValue: "", isStatic: false, validity: .regexOptional, type: "regular expression",
            visibility: "customer - warning - a warning will be given to the user if this key is changed",
            description: "This value is a regular expression.  Any unprovisioned handset with an IMSI matching the regular expression is rejected for registration, even if it matches Control.LUR.OpenRegistration."),
        Key(name: gprsEnable, defaultValue: "0", isStatic: true, validity: .boolean, type: "boolean",
            visibility: "customer - can be freely changed by the customer without any detriment to their system",
            description: "If enabled, GPRS service is advertised in the C0T0 beacon, and GPRS service may be started on demand."),
        Key(name: msIdle, defaultValue: "600", isStatic: false, validity: .range(300, 900), type: "value range",
            visibility: "developer - should only be changed by developers to debug/optimize implementation",
            description: "How long in seconds an MS is idle before the BTS forgets about it."),
        Key(name: ci, defaultValue: "10", isStatic: false, validity: .range(0, 65535), type: "value range",
            visibility: "customer - site - these values are different for each BTS and should not be left default",
            description: "Cell ID, 16 bits.  Should be unique."),
        Key(name: lac, defaultValue: "1000", isStatic: false, validity: .range(0, 65280), type: "value range",
            visibility: "customer - site - these values are different for each BTS and should not be left default",
            description: "Location area code, 16 bits, values 0xFFxx are reserved."),
        Key(name: mcc, defaultValue: "001", isStatic: false, validity: .digits(3, 3), type: "string",
            visibility: "customer - site - these values are different for each BTS and should not be left default",
            description: "Mobile country code; must be three digits.  Defined in ITU-T E.212. Value of 001 for test networks."),
        Key(name: mnc, defaultValue: "01", isStatic: false, validity: .digits(2, 3), type: "string",
            visibility: "customer - site - these values are different for each BTS and should not be left default",
            description: "Mobile network code, two or three digits.  Assigned by your national regulator.  01 for test networks."),
        Key(name: band, defaultValue: "900", isStatic: true, validity: .choice(["850", "900", "1800", "1900"]), type: "multiple choice",
            visibility: "customer - warning - a warning will be given to the user if this key is changed",
            description: "The GSM operating band.  Valid values are 850 for GSM850, 900 for PGSM900, 1800 for DCS1800 and 1900 for PCS1900."),
        Key(name: c0, defaultValue: "51", isStatic: true, validity: .arfcn, type: "multiple choice",
            visibility: "customer - site - these values are different for each BTS and should not be left default",
            description: "The C0 ARFCN.  Also the base ARFCN for a multi-ARFCN configuration."),
        Key(name: maxAtten, defaultValue: "10", isStatic: false, validity: .range(0, 80), type: "value range",
            visibility: "customer - tuning - should only be changed to tune an installation to better suit the physical environment or MS usage pattern",
            description: "Maximum transmitter attenuation level, in dB wrt full scale on the D/A output.  This sets the minimum power output level in the output power control loop."),
        Key(name: minAtten, defaultValue: "0", isStatic: false, validity: .range(0, 80), type: "value range",
            visibility: "customer - tuning - should only be changed to tune an installation to better suit the physical environment or MS usage pattern",
            description: "Minimum transmitter attenuation level, in dB wrt full scale on the D/A output.  This sets the maximum power output level in the output power control loop."),
    ]

    static func key(_ name: String) -> Key? { schema.first { $0.name == name } }

    /// The stored values by key.
    private(set) var values: [String: String]
    /// The static keys' values the running radio started with.
    private(set) var running: [String: String]

    /// The database of the simulated board: the defaults, open registration for every IMSI
    /// (`.*`: no registrar is emulated) and GPRS on.
    init() {
        var values: [String: String] = [:]
        for key in Self.schema { values[key.name] = key.defaultValue }
        values[Self.openRegistration] = ".*"
        values[Self.gprsEnable] = "1"
        self.values = values
        running = values
    }

    subscript(_ name: String) -> String { values[name] ?? "" }

    /// A radio (re)start applies the static keys.
    mutating func applyOnStart() { running = values }

    mutating func set(_ name: String, _ value: String) { values[name] = value }

    /// Whether `value` is valid for `key` now (OpenBTS's isValidValue).
    func isValid(_ key: Key, _ value: String) -> Bool {
        switch key.validity {
        case .range(let low, let high):
            guard let number = Int(value), value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) else { return false }
            return (low...high).contains(number)
        case .choice(let options): return options.contains(value)
        case .digits(let low, let high): return (low...high).contains(value.count) && value.allSatisfy { $0.isASCII && $0.isNumber }
        case .regexOptional: return value.isEmpty || (try? POSIXRegex(value)) != nil
        case .boolean: return value == "0" || value == "1"
        case .arfcn:
            guard let arfcn = Int(value), value.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            return Self.arfcns(band: self[Self.band]).contains { $0.contains(arfcn) }
        }
    }

    /// The ARFCNs OpenBTS accepts for GSM.Radio.C0 in `band` (getARFCNsString).
    static func arfcns(band: String) -> [ClosedRange<Int>] {
        switch band {
        case "850": [128...251]
        case "900": [0...124, 975...1023]
        case "1800": [512...885]
        case "1900": [512...810]
        default: []
        }
    }

    /// OpenBTS's cross-check warnings for `name` (its own ranges, narrower than `arfcns`).
    func warnings(for name: String) -> [String] {
        guard name == Self.c0 || name == Self.band else { return [] }
        let band = self[Self.band]
        let c0 = Int(self[Self.c0]) ?? 0
        let ranges = ["850": (128, 251, "128-251"), "900": (1, 124, "1-124"), "1800": (512, 885, "512-885"), "1900": (512, 810, "512-810")]
        guard let (low, high, text) = ranges[band], c0 < low || c0 > high else { return [] }
        return ["GSM.Radio.C0 (\(c0)) falls outside the valid range of ARFCNs \(text) for GSM.Radio.Band (\(band))"]
    }

    /// Whether open registration admits `imsi`: OpenRegistration set and matching, and
    /// OpenRegistration.Reject unset or not matching (LUBase::openRegistration). The simulated
    /// registrar provisions nobody, so this alone decides.
    func admits(imsi: String) -> Bool {
        let open = self[Self.openRegistration]
        guard !open.isEmpty, let pattern = try? POSIXRegex(open), pattern.matches(imsi) else { return false }
        let reject = self[Self.openRegistrationReject]
        guard !reject.isEmpty, let rejecting = try? POSIXRegex(reject) else { return true }
        return !rejecting.matches(imsi)
    }

    /// The downlink attenuation the power manager settles at (its ramp is not emulated).
    var attenuation: Int { Int(self[Self.minAtten]) ?? 0 }
}
