import Crypto

/// A 48-bit IEEE MAC address (6 bytes on the wire).
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// `aa:bb:cc:dd:ee:ff` (either case).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.utf8.count == 2, let byte = Hex.decode(part)?.first else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    public static func < (a: MACAddress, b: MACAddress) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// Lower-case, colon-separated.
    public var description: String {
        bytes.map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined(separator: ":")
    }
}

/// The radios a station has. Unknown bits are rejected when decoding.
public struct RadioCapabilities: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let wifi2_4GHz = RadioCapabilities(rawValue: 1 << 0)
    public static let wifi5GHz = RadioCapabilities(rawValue: 1 << 1)
    public static let lteU = RadioCapabilities(rawValue: 1 << 2)
    /// GSM through OpenBTS.
    public static let gsm = RadioCapabilities(rawValue: 1 << 3)
    /// Every bit this version knows.
    public static let known: RadioCapabilities = [.wifi2_4GHz, .wifi5GHz, .lteU, .gsm]
}

/// A position as fixed-point integers: microdegrees of latitude (±90e6) and longitude
/// (±180e6), and metres above sea level. No floating point on the chain.
public struct GeoPosition: Hashable, Sendable {
    public var latitudeMicrodegrees: Int32
    public var longitudeMicrodegrees: Int32
    public var altitudeMeters: Int32

    public init(latitudeMicrodegrees: Int32, longitudeMicrodegrees: Int32, altitudeMeters: Int32 = 0) {
        self.latitudeMicrodegrees = latitudeMicrodegrees
        self.longitudeMicrodegrees = longitudeMicrodegrees
        self.altitudeMeters = altitudeMeters
    }
}

/// The station's own speed test, as it reported it.
public struct SpeedTestReport: Hashable, Sendable {
    public var downKbps: UInt32
    public var upKbps: UInt32
    public var latencyMicroseconds: UInt32
    /// Unix time of the measurement, milliseconds.
    public var measuredAtMs: UInt64

    public init(downKbps: UInt32, upKbps: UInt32, latencyMicroseconds: UInt32, measuredAtMs: UInt64) {
        self.downKbps = downKbps
        self.upKbps = upKbps
        self.latencyMicroseconds = latencyMicroseconds
        self.measuredAtMs = measuredAtMs
    }
}

/// A base station's static configuration, registered on chain by the station's account.
/// Immutable: a change is a new registration with a new `AssetID`, trusted once it has
/// `ChainParameters.assetConfirmations` confirmations (see `LedgerState.trustedAsset`).
public struct AssetRecord: Hashable, Sendable, CanonicalCodable {
    public static let macLimits = 1...8
    public static let ssidLimits = 1...32

    public var position: GeoPosition
    /// The station's interfaces, in the station's own order; no duplicates.
    public var macs: [MACAddress]
    /// The Wi-Fi SSID: 1-32 arbitrary octets (802.11 allows any bytes).
    public var ssid: [UInt8]
    public var radios: RadioCapabilities
    public var maxSubscribers: UInt16
    public var txPowerMilliwatts: UInt16
    public var speedTest: SpeedTestReport

    public init(position: GeoPosition, macs: [MACAddress], ssid: [UInt8], radios: RadioCapabilities,
                maxSubscribers: UInt16, txPowerMilliwatts: UInt16, speedTest: SpeedTestReport) {
        self.position = position
        self.macs = macs
        self.ssid = ssid
        self.radios = radios
        self.maxSubscribers = maxSubscribers
        self.txPowerMilliwatts = txPowerMilliwatts
        self.speedTest = speedTest
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.i32(position.latitudeMicrodegrees)
        writer.i32(position.longitudeMicrodegrees)
        writer.i32(position.altitudeMeters)
        writer.list(macs) { $0.raw($1.bytes) }
        writer.variable(ssid)
        writer.u32(radios.rawValue)
        writer.u16(maxSubscribers)
        writer.u16(txPowerMilliwatts)
        writer.u32(speedTest.downKbps)
        writer.u32(speedTest.upKbps)
        writer.u32(speedTest.latencyMicroseconds)
        writer.u64(speedTest.measuredAtMs)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        let latitude = try reader.i32("latitudeMicrodegrees")
        guard (-90_000_000...90_000_000).contains(latitude) else {
            throw DecodeError(field: "latitudeMicrodegrees", reason: "\(latitude) outside ±90000000")
        }
        let longitude = try reader.i32("longitudeMicrodegrees")
        guard (-180_000_000...180_000_000).contains(longitude) else {
            throw DecodeError(field: "longitudeMicrodegrees", reason: "\(longitude) outside ±180000000")
        }
        position = GeoPosition(latitudeMicrodegrees: latitude, longitudeMicrodegrees: longitude,
                               altitudeMeters: try reader.i32("altitudeMeters"))
        macs = try reader.list("macs", Self.macLimits, elementBytes: 6) { reader throws(DecodeError) in
            MACAddress(bytes: try reader.fixed(6, ""))!
        }
        for index in macs.indices where macs[..<index].contains(macs[index]) {
            throw DecodeError(field: "macs[\(index)]", reason: "duplicate \(macs[index])")
        }
        ssid = try reader.variable("ssid", Self.ssidLimits)
        radios = RadioCapabilities(rawValue: try reader.u32("radios"))
        guard !radios.isEmpty, RadioCapabilities.known.isSuperset(of: radios) else {
            throw DecodeError(field: "radios", reason: "invalid capability bits \(radios.rawValue)")
        }
        maxSubscribers = try reader.u16("maxSubscribers")
        guard maxSubscribers > 0 else { throw DecodeError(field: "maxSubscribers", reason: "must be positive") }
        txPowerMilliwatts = try reader.u16("txPowerMilliwatts")
        speedTest = try within("speedTest") { () throws(DecodeError) in
            SpeedTestReport(downKbps: try reader.u32("downKbps"), upKbps: try reader.u32("upKbps"),
                            latencyMicroseconds: try reader.u32("latencyMicroseconds"),
                            measuredAtMs: try reader.u64("measuredAtMs"))
        }
    }
}

/// A registered asset as the state keeps it.
public struct AssetEntry: Hashable, Sendable {
    /// The id of the registering transaction.
    public let id: AssetID
    /// The station's account (the registering sender).
    public let station: Address
    public let record: AssetRecord
    /// The height of the block that included the registration.
    public let height: UInt64
    /// The station's registration this one replaces, if any.
    public let previous: AssetID?

    public init(id: AssetID, station: Address, record: AssetRecord, height: UInt64, previous: AssetID?) {
        self.id = id
        self.station = station
        self.record = record
        self.height = height
        self.previous = previous
    }

    /// Confirmations at chain height `tip`: 1 in its own block, `n` after `n - 1` more blocks.
    public func confirmations(atTip tip: UInt64) -> UInt64 {
        tip < height ? 0 : tip - height + 1
    }
}
