/// Why bytes (or a genesis file) were rejected: the path of the offending field, e.g.
/// `transaction.payload.registerAsset.ssid`, and what is wrong with it.
public struct DecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Dotted path with list indices, e.g. `block.transactions[3].signature`.
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    /// The same error seen from the enclosing value: `component` is prepended.
    public func under(_ component: String) -> DecodeError {
        let path = field.isEmpty ? component : field.hasPrefix("[") ? component + field : component + "." + field
        return DecodeError(field: path, reason: reason)
    }

    /// `field: reason`.
    public var description: String { field.isEmpty ? reason : "\(field): \(reason)" }
}

/// Runs `body`, naming any error under `component`. Costs nothing unless it throws.
@inline(__always)
public func within<T>(_ component: String, _ body: () throws(DecodeError) -> T) throws(DecodeError) -> T {
    do { return try body() } catch { throw error.under(component) }
}

/// Runs `body` for list element `index`, naming any error under `[index]`.
@inline(__always)
public func within<T>(index: Int, _ body: () throws(DecodeError) -> T) throws(DecodeError) -> T {
    do { return try body() } catch { throw error.under("[\(index)]") }
}

/// Reads the canonical binary encoding. Every read checks the bytes left before it
/// touches or allocates anything, so hostile input costs work bounded by its length.
public struct BinaryReader: Sendable {
    private let bytes: [UInt8]
    /// Bytes consumed so far.
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Bytes not yet read.
    public var remaining: Int { bytes.count - offset }

    /// Rejects trailing bytes: a value's encoding is exactly its bytes.
    public func finish() throws(DecodeError) {
        guard remaining == 0 else { throw DecodeError(field: "", reason: "\(remaining) trailing bytes") }
    }

    private mutating func take(_ count: Int, _ field: String) throws(DecodeError) -> Int {
        guard count <= remaining else {
            throw DecodeError(field: field, reason: "truncated: needs \(count) bytes, \(remaining) left")
        }
        defer { offset += count }
        return offset
    }

    private mutating func load<T: FixedWidthInteger>(_ type: T.Type, _ field: String) throws(DecodeError) -> T {
        let at = try take(MemoryLayout<T>.size, field)
        return T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: T.self) })
    }

    public mutating func u8(_ field: String) throws(DecodeError) -> UInt8 { bytes[try take(1, field)] }
    public mutating func u16(_ field: String) throws(DecodeError) -> UInt16 { try load(UInt16.self, field) }
    public mutating func u32(_ field: String) throws(DecodeError) -> UInt32 { try load(UInt32.self, field) }
    public mutating func u64(_ field: String) throws(DecodeError) -> UInt64 { try load(UInt64.self, field) }
    public mutating func i32(_ field: String) throws(DecodeError) -> Int32 { Int32(bitPattern: try u32(field)) }
    public mutating func amount(_ field: String) throws(DecodeError) -> Amount { Amount(units: try u64(field)) }

    /// 0 or 1; any other byte is a second encoding of a boolean, so it is rejected.
    public mutating func bool(_ field: String) throws(DecodeError) -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let other: throw DecodeError(field: field, reason: "invalid boolean \(other)")
        }
    }

    /// An enum tag; `valid` lists the tags this version knows.
    public mutating func tag(_ field: String, valid: ClosedRange<UInt8>) throws(DecodeError) -> UInt8 {
        let tag = try u8(field)
        guard valid.contains(tag) else { throw DecodeError(field: field, reason: "unknown tag \(tag)") }
        return tag
    }

    public mutating func bytes32(_ field: String) throws(DecodeError) -> Bytes32 {
        let at = try take(Bytes32.count, field)
        return bytes.withUnsafeBytes { Bytes32(loading: $0, at: at) }
    }

    public mutating func address(_ field: String) throws(DecodeError) -> Address { Address(try bytes32(field)) }

    public mutating func signature(_ field: String) throws(DecodeError) -> Signature {
        Signature(bytes: try fixed(Signature.count, field))!
    }

    /// `count` raw bytes.
    public mutating func fixed(_ count: Int, _ field: String) throws(DecodeError) -> [UInt8] {
        let at = try take(count, field)
        return Array(bytes[at..<at + count])
    }

    /// A list's element count, checked against `limits` and against the bytes left
    /// (each element takes at least `elementBytes`) before anything is allocated.
    public mutating func count(_ field: String, _ limits: ClosedRange<Int>, elementBytes: Int = 1,
                               prefix: LengthPrefix = .u16) throws(DecodeError) -> Int {
        let count = prefix == .u16 ? Int(try u16(field)) : Int(try u32(field))
        guard count <= limits.upperBound else {
            throw DecodeError(field: field, reason: "count \(count) > \(limits.upperBound)")
        }
        guard count >= limits.lowerBound else {
            throw DecodeError(field: field, reason: "count \(count) < \(limits.lowerBound)")
        }
        guard count <= remaining / max(elementBytes, 1) else {
            throw DecodeError(field: field, reason: "truncated: \(count) elements cannot fit in \(remaining) bytes")
        }
        return count
    }

    /// A length-prefixed byte string whose length lies in `limits`.
    public mutating func variable(_ field: String, _ limits: ClosedRange<Int>,
                                  prefix: LengthPrefix = .u16) throws(DecodeError) -> [UInt8] {
        let length = prefix == .u16 ? Int(try u16(field)) : Int(try u32(field))
        guard length <= limits.upperBound else {
            throw DecodeError(field: field, reason: "length \(length) > \(limits.upperBound)")
        }
        guard length >= limits.lowerBound else {
            throw DecodeError(field: field, reason: "length \(length) < \(limits.lowerBound)")
        }
        return try fixed(length, field)
    }

    /// Length-prefixed printable ASCII (0x20-0x7E): names and URLs, one spelling each.
    public mutating func text(_ field: String, _ limits: ClosedRange<Int>) throws(DecodeError) -> String {
        let utf8 = try variable(field, limits)
        if let bad = utf8.firstIndex(where: { !(0x20...0x7E).contains($0) }) {
            throw DecodeError(field: field, reason: "byte \(bad) is not printable ASCII")
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// An optional: presence byte 0 or 1, then the value.
    public mutating func optional<T>(_ field: String,
                                     _ read: (inout BinaryReader) throws(DecodeError) -> T) throws(DecodeError) -> T? {
        try bool(field) ? try within(field) { () throws(DecodeError) in try read(&self) } : nil
    }

    /// A count-prefixed list; element errors are named `field[index]`.
    public mutating func list<T>(_ field: String, _ limits: ClosedRange<Int>, elementBytes: Int = 1,
                                 prefix: LengthPrefix = .u16,
                                 _ read: (inout BinaryReader) throws(DecodeError) -> T) throws(DecodeError) -> [T] {
        let count = try count(field, limits, elementBytes: elementBytes, prefix: prefix)
        var values: [T] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            let value = try within(field) { () throws(DecodeError) in
                try within(index: index) { () throws(DecodeError) in try read(&self) }
            }
            values.append(value)
        }
        return values
    }

    /// A list of addresses in strictly ascending order: a set with exactly one encoding.
    public mutating func addressSet(_ field: String, _ limits: ClosedRange<Int>) throws(DecodeError) -> [Address] {
        let values = try list(field, limits, elementBytes: Bytes32.count) { reader throws(DecodeError) in
            try reader.address("")
        }
        try requireAscending(values, field)
        return values
    }
}

/// Sets are encoded as strictly ascending lists; anything else (a duplicate, a
/// different order) is a second encoding of some set and is rejected.
func requireAscending<T: Comparable>(_ values: [T], _ field: String) throws(DecodeError) {
    for index in values.indices.dropFirst() where !(values[index - 1] < values[index]) {
        let reason = values[index - 1] == values[index] ? "duplicate" : "not in ascending order"
        throw DecodeError(field: "\(field)[\(index)]", reason: reason)
    }
}
