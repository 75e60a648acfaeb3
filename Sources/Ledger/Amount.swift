/// An amount of QLC in base units (1 QLC = 10^8 units). Arithmetic is checked: it
/// returns nil instead of wrapping or trapping, and callers turn nil into a rejection.
public struct Amount: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Base units per QLC (8 decimals).
    public static let unitsPerQLC: UInt64 = 100_000_000
    /// Decimal places of the text form.
    public static let decimals = 8
    /// The whole supply, fixed in the genesis and never minted: 600,000,000 QLC.
    public static let totalSupply = Amount(units: 600_000_000 * unitsPerQLC)
    public static let zero = Amount(units: 0)

    /// Base units.
    public let units: UInt64

    public init(units: UInt64) { self.units = units }

    /// `whole` QLC, or nil if that does not fit.
    public static func qlc(_ whole: UInt64) -> Amount? {
        let (units, overflow) = whole.multipliedReportingOverflow(by: unitsPerQLC)
        return overflow ? nil : Amount(units: units)
    }

    /// The sum, or nil on overflow.
    public func adding(_ other: Amount) -> Amount? {
        let (sum, overflow) = units.addingReportingOverflow(other.units)
        return overflow ? nil : Amount(units: sum)
    }

    /// The difference, or nil if `other` is larger.
    public func subtracting(_ other: Amount) -> Amount? {
        other.units > units ? nil : Amount(units: units - other.units)
    }

    /// `self × factor`, or nil on overflow.
    public func multiplied(by factor: UInt64) -> Amount? {
        let (product, overflow) = units.multipliedReportingOverflow(by: factor)
        return overflow ? nil : Amount(units: product)
    }

    /// What `bytes` cost at `self` per 10^6 bytes, rounded up; nil when it exceeds UInt64.
    public func charge(forBytes bytes: UInt64) -> Amount? {
        let (high, low) = units.multipliedFullWidth(by: bytes)
        let megabyte: UInt64 = 1_000_000
        guard high < megabyte else { return nil }
        let (quotient, remainder) = megabyte.dividingFullWidth((high, low))
        if remainder == 0 { return Amount(units: quotient) }
        return quotient == .max ? nil : Amount(units: quotient + 1)
    }

    /// Parses a decimal QLC amount: digits, optionally `.` and 1-8 more digits
    /// (`"12"`, `"0.5"`, `"600000000.00000000"`). No sign, exponent, spaces or separators.
    public init?(decimal text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        let dot = utf8.firstIndex(of: UInt8(ascii: "."))
        let wholeDigits = utf8[..<(dot ?? utf8.endIndex)]
        let fractionDigits = dot.map { utf8[($0 + 1)...] } ?? []
        guard !wholeDigits.isEmpty, wholeDigits.count <= 20,
              dot == nil || (1...Self.decimals).contains(fractionDigits.count),
              let whole = Self.digitsValue(wholeDigits), let fraction = Self.digitsValue(fractionDigits)
        else { return nil }
        var scale: UInt64 = 1
        for _ in fractionDigits.count..<Self.decimals { scale *= 10 }
        guard let wholeUnits = Amount.qlc(whole), let total = wholeUnits.adding(Amount(units: fraction * scale))
        else { return nil }
        self = total
    }

    private static func digitsValue(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = next
        }
        return value
    }

    /// The decimal text with all 8 decimals, e.g. `"1.50000000"`; `init(decimal:)` reads it back.
    public var decimal: String {
        let fraction = String(units % Self.unitsPerQLC)
        return "\(units / Self.unitsPerQLC)." + String(repeating: "0", count: Self.decimals - fraction.count) + fraction
    }

    /// `"1.50000000 QLC"`.
    public var description: String { decimal + " QLC" }

    public static func < (a: Amount, b: Amount) -> Bool { a.units < b.units }
}
