/// The genesis file: JSON with the same field names as the Swift types, e.g.
///
/// ```json
/// {
///   "chainName": "qlink-sim",
///   "timestampMs": 1767225600000,
///   "parameters": {
///     "blockIntervalMs": 1000, "producerCount": 21, "slotsPerProducer": 2,
///     "maxBlockBytes": 1048576, "maxTransactionBytes": 4096,
///     "minimumFee": "0.00001000", "feePerByte": "0.00000010", "assetConfirmations": 6
///   },
///   "allocations": [ { "address": "<64 hex>", "amount": "600000000.00000000" } ],
///   "producers": [ { "address": "<64 hex>", "name": "bs1", "url": "", "signingKey": "<64 hex>" } ]
/// }
/// ```
///
/// Every key is required (defaults would let a code change move the chain id) and
/// unknown keys are errors. Amounts are decimal QLC strings (exact; JSON numbers are
/// not), integers plain JSON integers. Lists may come in any order; the chain id is
/// computed from the sorted, canonical binary encoding, not from the text.
extension Genesis {
    /// Largest genesis file read.
    public static let maxFileBytes = 64 << 20

    /// Parses and validates a genesis file; errors name the field, e.g.
    /// `genesis.allocations[2].amount: total ... is not the supply ...`.
    public init(json bytes: [UInt8]) throws(DecodeError) {
        guard bytes.count <= Self.maxFileBytes else {
            throw DecodeError(field: "genesis", reason: "file of \(bytes.count) bytes > \(Self.maxFileBytes)")
        }
        let root = try within("genesis") { () throws(DecodeError) in try JSONParser.parse(bytes) }
        let top = try JSONFields(root, path: "genesis")
        try top.onlyKeys(["chainName", "timestampMs", "parameters", "allocations", "producers"])
        let p = try JSONFields(try top.value("parameters"), path: "genesis.parameters")
        try p.onlyKeys(["blockIntervalMs", "producerCount", "slotsPerProducer", "maxBlockBytes",
                        "maxTransactionBytes", "minimumFee", "feePerByte", "assetConfirmations"])
        let parameters = ChainParameters(
            blockIntervalMs: try p.integer("blockIntervalMs"), producerCount: try p.integer("producerCount"),
            slotsPerProducer: try p.integer("slotsPerProducer"), maxBlockBytes: try p.integer("maxBlockBytes"),
            maxTransactionBytes: try p.integer("maxTransactionBytes"), minimumFee: try p.amount("minimumFee"),
            feePerByte: try p.amount("feePerByte"), assetConfirmations: try p.integer("assetConfirmations"))
        var allocations: [GenesisAllocation] = []
        for (index, element) in try top.array("allocations").enumerated() {
            let a = try JSONFields(element, path: "genesis.allocations[\(index)]")
            try a.onlyKeys(["address", "amount"])
            allocations.append(GenesisAllocation(address: try a.address("address"), amount: try a.amount("amount")))
        }
        var producers: [GenesisProducer] = []
        for (index, element) in try top.array("producers").enumerated() {
            let f = try JSONFields(element, path: "genesis.producers[\(index)]")
            try f.onlyKeys(["address", "name", "url", "signingKey"])
            let registration = ProducerRegistration(name: try f.string("name"), url: try f.string("url"),
                                                    signingKey: try f.address("signingKey"))
            producers.append(GenesisProducer(address: try f.address("address"), registration: registration))
        }
        try self.init(chainName: try top.string("chainName"), timestampMs: try top.integer("timestampMs"),
                      parameters: parameters, allocations: allocations, producers: producers)
    }

    /// The genesis as a file `init(json:)` reads back (sorted lists, all keys).
    public var json: String {
        let p = parameters
        let parameterMembers: [(String, JSONValue)] = [
            ("blockIntervalMs", .number("\(p.blockIntervalMs)")), ("producerCount", .number("\(p.producerCount)")),
            ("slotsPerProducer", .number("\(p.slotsPerProducer)")), ("maxBlockBytes", .number("\(p.maxBlockBytes)")),
            ("maxTransactionBytes", .number("\(p.maxTransactionBytes)")), ("minimumFee", .string(p.minimumFee.decimal)),
            ("feePerByte", .string(p.feePerByte.decimal)), ("assetConfirmations", .number("\(p.assetConfirmations)")),
        ]
        let allocationValues = allocations.map {
            Self.object([("address", .string($0.address.description)), ("amount", .string($0.amount.decimal))])
        }
        let producerValues = producers.map {
            Self.object([("address", .string($0.address.description)), ("name", .string($0.registration.name)),
                         ("url", .string($0.registration.url)), ("signingKey", .string($0.registration.signingKey.description))])
        }
        return Self.object([
            ("chainName", .string(chainName)), ("timestampMs", .number("\(timestampMs)")),
            ("parameters", Self.object(parameterMembers)),
            ("allocations", .array(allocationValues)), ("producers", .array(producerValues)),
        ]).rendered()
    }

    private static func object(_ members: [(String, JSONValue)]) -> JSONValue {
        .object(members.map { JSONMember(key: $0.0, value: $0.1) })
    }
}

/// Typed access to one JSON object's members, with errors naming `path.key`.
struct JSONFields {
    let path: String
    let members: [JSONMember]

    init(_ value: JSONValue, path: String) throws(DecodeError) {
        guard case let .object(members) = value else {
            throw DecodeError(field: path, reason: "expected an object, found \(value.kind)")
        }
        self.path = path
        self.members = members
    }

    func onlyKeys(_ known: Set<String>) throws(DecodeError) {
        if let unknown = members.first(where: { !known.contains($0.key) }) {
            throw DecodeError(field: "\(path).\(unknown.key)", reason: "unknown key")
        }
    }

    func value(_ key: String) throws(DecodeError) -> JSONValue {
        guard let member = members.first(where: { $0.key == key }) else {
            throw DecodeError(field: "\(path).\(key)", reason: "missing")
        }
        return member.value
    }

    func string(_ key: String) throws(DecodeError) -> String {
        guard case let .string(text) = try value(key) else { throw mismatch(key, "a string") }
        return text
    }

    func array(_ key: String) throws(DecodeError) -> [JSONValue] {
        guard case let .array(values) = try value(key) else { throw mismatch(key, "an array") }
        return values
    }

    /// A non-negative JSON integer (no fraction, exponent or sign) that fits `T`.
    func integer<T: FixedWidthInteger & UnsignedInteger>(_ key: String) throws(DecodeError) -> T {
        guard case let .number(text) = try value(key) else { throw mismatch(key, "an integer") }
        guard let value = T(text) else {
            throw DecodeError(field: "\(path).\(key)", reason: "\(text) is not an integer in 0...\(T.max)")
        }
        return value
    }

    /// A decimal QLC string with at most 8 decimals.
    func amount(_ key: String) throws(DecodeError) -> Amount {
        let text = try string(key)
        guard let amount = Amount(decimal: text) else {
            throw DecodeError(field: "\(path).\(key)", reason: "\"\(text)\" is not a QLC amount (digits, up to 8 decimals)")
        }
        return amount
    }

    /// 64 hex digits.
    func address(_ key: String) throws(DecodeError) -> Address {
        let text = try string(key)
        guard let address = Address(hex: text) else {
            throw DecodeError(field: "\(path).\(key)", reason: "\"\(text)\" is not 64 hex digits")
        }
        return address
    }

    private func mismatch(_ key: String, _ expected: String) -> DecodeError {
        let found = (try? value(key))?.kind ?? "nothing"
        return DecodeError(field: "\(path).\(key)", reason: "expected \(expected), found \(found)")
    }
}
