/// A 48-bit IEEE MAC address, printed in lower-case colon form.
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (either case).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    public var description: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    public static func < (a: MACAddress, b: MACAddress) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let mac = MACAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a MAC address: \(text)"))
        }
        self = mac
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Who is being metered: a Wi-Fi station (`mac:…`) or a cellular subscriber (`imsi:…`).
public struct SubscriberID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public enum Scheme: String, Sendable, CaseIterable {
        case mac, imsi
    }

    public let scheme: Scheme
    public let value: String

    public static func mac(_ address: MACAddress) -> SubscriberID { SubscriberID(scheme: .mac, value: address.description) }

    /// A subscriber by IMSI (up to 15 decimal digits), or nil if `imsi` is not one.
    public static func imsi(_ imsi: String) -> SubscriberID? {
        guard (1...15).contains(imsi.count), imsi.allSatisfy(\.isASCII), imsi.allSatisfy(\.isNumber) else { return nil }
        return SubscriberID(scheme: .imsi, value: imsi)
    }

    private init(scheme: Scheme, value: String) {
        self.scheme = scheme
        self.value = value
    }

    /// Parses `mac:aa:bb:…` or `imsi:001010…`.
    public init?(_ text: some StringProtocol) {
        guard let colon = text.firstIndex(of: ":"), let scheme = Scheme(rawValue: String(text[..<colon])) else { return nil }
        let rest = text[text.index(after: colon)...]
        switch scheme {
        case .mac:
            guard let mac = MACAddress(rest) else { return nil }
            self = .mac(mac)
        case .imsi:
            guard let id = SubscriberID.imsi(String(rest)) else { return nil }
            self = id
        }
    }

    /// The access network: `wifi` for MACs, `lte` for IMSIs.
    public var kind: String { scheme == .mac ? "wifi" : "lte" }

    public var macAddress: MACAddress? { scheme == .mac ? MACAddress(value) : nil }

    public var description: String { "\(scheme.rawValue):\(value)" }

    public static func < (a: SubscriberID, b: SubscriberID) -> Bool { a.description < b.description }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = SubscriberID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a subscriber id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
