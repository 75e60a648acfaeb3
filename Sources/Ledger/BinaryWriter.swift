/// The width of a length or count prefix. Inside transactions every prefix is `.u16`;
/// only a block's transaction list and the genesis lists use `.u32`.
public enum LengthPrefix: Sendable {
    case u16, u32

    var maximum: Int { self == .u16 ? Int(UInt16.max) : Int(UInt32.max) }
}

/// Writes the canonical binary encoding (see README): fixed-width little-endian
/// integers, raw fixed-size fields, length-prefixed byte strings and lists.
///
/// Writing never fails. A value outside its field's limits (a 40-byte SSID built in
/// memory) still encodes, into bytes the reader rejects naming the field; that is how
/// `SignedTransaction.sign` and `Block.assemble` validate what they are given.
public struct BinaryWriter: Sendable {
    /// What has been written.
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    public mutating func u16(_ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Two's complement, little-endian.
    public mutating func i32(_ value: Int32) { u32(UInt32(bitPattern: value)) }

    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func amount(_ value: Amount) { u64(value.units) }

    /// Bytes of a fixed-size field, no prefix.
    public mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }

    public mutating func raw(_ value: Bytes32) { value.append(to: &bytes) }

    public mutating func address(_ value: Address) { value.raw.append(to: &bytes) }

    public mutating func signature(_ value: Signature) { bytes.append(contentsOf: value.bytes) }

    /// A count prefix, clamped to the prefix's maximum (the reader rejects the result
    /// against the field's own, smaller, maximum).
    public mutating func count(_ count: Int, prefix: LengthPrefix = .u16) {
        switch prefix {
        case .u16: u16(UInt16(clamping: count))
        case .u32: u32(UInt32(clamping: count))
        }
    }

    /// A length-prefixed byte string.
    public mutating func variable(_ value: [UInt8], prefix: LengthPrefix = .u16) {
        count(value.count, prefix: prefix)
        bytes.append(contentsOf: value)
    }

    /// Text as a length-prefixed byte string of its UTF-8.
    public mutating func text(_ value: String) { variable(Array(value.utf8)) }

    /// An optional: a presence byte (0 or 1), then the value if present.
    public mutating func optional<T>(_ value: T?, _ write: (inout BinaryWriter, T) -> Void) {
        if let value {
            bytes.append(1)
            write(&self, value)
        } else {
            bytes.append(0)
        }
    }

    /// A count-prefixed list.
    public mutating func list<T>(_ values: [T], prefix: LengthPrefix = .u16, _ write: (inout BinaryWriter, T) -> Void) {
        count(values.count, prefix: prefix)
        for value in values { write(&self, value) }
    }
}

/// A value with exactly one binary encoding.
public protocol CanonicalEncodable {
    /// Appends the canonical encoding.
    func encode(to writer: inout BinaryWriter)
}

/// A value read back from its canonical encoding, rejecting every other byte string.
public protocol CanonicalDecodable {
    /// Reads one value; errors name the field relative to this value.
    init(from reader: inout BinaryReader) throws(DecodeError)
}

/// Both directions; `decode(encode(x)) == x` and `encode(decode(b)) == b`.
public typealias CanonicalCodable = CanonicalEncodable & CanonicalDecodable

extension CanonicalEncodable {
    /// The canonical encoding.
    public var canonicalEncoding: [UInt8] {
        var writer = BinaryWriter()
        encode(to: &writer)
        return writer.bytes
    }
}

extension CanonicalDecodable {
    /// Decodes a whole buffer (no trailing bytes); errors are named under `root`.
    public init(canonical bytes: [UInt8], root: String) throws(DecodeError) {
        var reader = BinaryReader(bytes)
        let value = try within(root) { () throws(DecodeError) in
            let value = try Self(from: &reader)
            try reader.finish()
            return value
        }
        self = value
    }
}
