/// The rules a chain fixes in its genesis.
public struct ChainParameters: Hashable, Sendable, CanonicalCodable {
    /// Slot length, milliseconds (1000 on the main chain); 100...60000.
    public var blockIntervalMs: UInt32
    /// Producers elected per round; 1...21.
    public var producerCount: UInt8
    /// Consecutive slots each producer gets in a round; 1...16.
    public var slotsPerProducer: UInt8
    /// Largest block encoding; 1024...`Limits.maxBlockBytes`.
    public var maxBlockBytes: UInt32
    /// Largest transaction encoding; 256...`Limits.maxTransactionBytes`, and a block
    /// must hold at least one: `maxTransactionBytes + 1024 <= maxBlockBytes`.
    public var maxTransactionBytes: UInt32
    /// Fee every transaction pays at least, plus `feePerByte` × its encoded size.
    public var minimumFee: Amount
    public var feePerByte: Amount
    /// Confirmations before an asset registration is trusted (6); 1...10000.
    public var assetConfirmations: UInt32

    public init(blockIntervalMs: UInt32, producerCount: UInt8, slotsPerProducer: UInt8, maxBlockBytes: UInt32,
                maxTransactionBytes: UInt32, minimumFee: Amount, feePerByte: Amount, assetConfirmations: UInt32) {
        self.blockIntervalMs = blockIntervalMs
        self.producerCount = producerCount
        self.slotsPerProducer = slotsPerProducer
        self.maxBlockBytes = maxBlockBytes
        self.maxTransactionBytes = maxTransactionBytes
        self.minimumFee = minimumFee
        self.feePerByte = feePerByte
        self.assetConfirmations = assetConfirmations
    }

    /// The main chain's values: 1 s blocks, 21 producers with 2 slots each, 1 MiB
    /// blocks, 4 KiB transactions, fee 0.00001 QLC + 10 units a byte, 6 confirmations.
    public static let standard = ChainParameters(
        blockIntervalMs: 1000, producerCount: 21, slotsPerProducer: 2, maxBlockBytes: 1 << 20,
        maxTransactionBytes: 4096, minimumFee: Amount(units: 1000), feePerByte: Amount(units: 10), assetConfirmations: 6)

    /// The fee a transaction of `bytes` bytes must pay at least; nil if it overflows.
    public func requiredFee(bytes: Int) -> Amount? {
        feePerByte.multiplied(by: UInt64(bytes)).flatMap { minimumFee.adding($0) }
    }

    /// Checks every range above, naming the field.
    public func validate() throws(DecodeError) {
        func check(_ ok: Bool, _ field: String, _ value: some BinaryInteger, _ range: String) throws(DecodeError) {
            guard ok else { throw DecodeError(field: field, reason: "\(value) outside \(range)") }
        }
        try check((100...60_000).contains(blockIntervalMs), "blockIntervalMs", blockIntervalMs, "100...60000")
        try check((1...UInt8(Limits.maxProducers)).contains(producerCount), "producerCount", producerCount, "1...\(Limits.maxProducers)")
        try check((1...16).contains(slotsPerProducer), "slotsPerProducer", slotsPerProducer, "1...16")
        try check((1024...UInt32(Limits.maxBlockBytes)).contains(maxBlockBytes), "maxBlockBytes", maxBlockBytes,
                  "1024...\(Limits.maxBlockBytes)")
        try check((256...UInt32(Limits.maxTransactionBytes)).contains(maxTransactionBytes), "maxTransactionBytes",
                  maxTransactionBytes, "256...\(Limits.maxTransactionBytes)")
        try check(maxTransactionBytes + 1024 <= maxBlockBytes, "maxTransactionBytes", maxTransactionBytes,
                  "...maxBlockBytes - 1024")
        try check((1...10_000).contains(assetConfirmations), "assetConfirmations", assetConfirmations, "1...10000")
        guard minimumFee <= Amount.qlc(1)!, feePerByte <= Amount(units: 1_000_000) else {
            throw DecodeError(field: minimumFee <= Amount.qlc(1)! ? "feePerByte" : "minimumFee", reason: "unreasonably high")
        }
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.u32(blockIntervalMs)
        writer.u8(producerCount)
        writer.u8(slotsPerProducer)
        writer.u32(maxBlockBytes)
        writer.u32(maxTransactionBytes)
        writer.amount(minimumFee)
        writer.amount(feePerByte)
        writer.u32(assetConfirmations)
    }

    public init(from reader: inout BinaryReader) throws(DecodeError) {
        blockIntervalMs = try reader.u32("blockIntervalMs")
        producerCount = try reader.u8("producerCount")
        slotsPerProducer = try reader.u8("slotsPerProducer")
        maxBlockBytes = try reader.u32("maxBlockBytes")
        maxTransactionBytes = try reader.u32("maxTransactionBytes")
        minimumFee = try reader.amount("minimumFee")
        feePerByte = try reader.amount("feePerByte")
        assetConfirmations = try reader.u32("assetConfirmations")
        try validate()
    }
}

/// An initial balance.
public struct GenesisAllocation: Hashable, Sendable {
    public var address: Address
    public var amount: Amount

    public init(address: Address, amount: Amount) {
        self.address = address
        self.amount = amount
    }
}

/// An initial producer.
public struct GenesisProducer: Hashable, Sendable {
    public var address: Address
    public var registration: ProducerRegistration

    public init(address: Address, registration: ProducerRegistration) {
        self.address = address
        self.registration = registration
    }
}

/// Everything a chain starts from. Its canonical encoding hashes to the chain id, so
/// two genesis files that differ in anything are different chains.
public struct Genesis: Hashable, Sendable, CanonicalEncodable {
    public static let allocationLimits = 1...1_000_000
    public static let producerLimits = 1...100
    public static let nameLimits = 1...32

    /// A human name (`qlink-main`, `qlink-sim`): printable ASCII, 1-32 bytes.
    public let chainName: String
    /// Unix time of the chain's start, milliseconds.
    public let timestampMs: UInt64
    public let parameters: ChainParameters
    /// Ascending by address; amounts positive and summing to exactly `Amount.totalSupply`.
    public let allocations: [GenesisAllocation]
    /// Ascending by address.
    public let producers: [GenesisProducer]
    /// H("qlink/genesis/v1" ‖ canonical encoding).
    public let chainID: ChainID

    /// Validates and sorts; errors name the field with the index as given.
    public init(chainName: String, timestampMs: UInt64, parameters: ChainParameters,
                allocations: [GenesisAllocation], producers: [GenesisProducer]) throws(DecodeError) {
        try within("genesis") { () throws(DecodeError) in
            try within("parameters") { () throws(DecodeError) in try parameters.validate() }
            for (index, producer) in producers.enumerated() {
                _ = try ProducerRegistration(canonical: producer.registration.canonicalEncoding, root: "producers[\(index)]")
            }
            try Self.check(chainName: Array(chainName.utf8), allocations: allocations, producers: producers)
        }
        self.init(unchecked: chainName, timestampMs, parameters,
                  allocations.sorted { $0.address < $1.address }, producers.sorted { $0.address < $1.address })
    }

    private init(unchecked chainName: String, _ timestampMs: UInt64, _ parameters: ChainParameters,
                 _ allocations: [GenesisAllocation], _ producers: [GenesisProducer]) {
        self.chainName = chainName
        self.timestampMs = timestampMs
        self.parameters = parameters
        self.allocations = allocations
        self.producers = producers
        var writer = BinaryWriter()
        Self.encode(chainName, timestampMs, parameters, allocations, producers, to: &writer)
        chainID = Digest.chainID(genesisEncoding: writer.bytes)
    }

    /// Decodes the binary form (root `genesis`); lists must already be ascending.
    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var reader = BinaryReader(bytes)
        self = try within("genesis") { () throws(DecodeError) in
            let name = try reader.text("chainName", Self.nameLimits)
            let timestamp = try reader.u64("timestampMs")
            let parameters = try within("parameters") { () throws(DecodeError) in try ChainParameters(from: &reader) }
            let allocations = try reader.list("allocations", Self.allocationLimits, elementBytes: 40, prefix: .u32) {
                reader throws(DecodeError) in
                GenesisAllocation(address: try reader.address("address"), amount: try reader.amount("amount"))
            }
            try requireAscending(allocations.map(\.address), "allocations")
            let producers = try reader.list("producers", Self.producerLimits, elementBytes: 68) { reader throws(DecodeError) in
                GenesisProducer(address: try reader.address("address"),
                                registration: try within("registration") { () throws(DecodeError) in
                                    try ProducerRegistration(from: &reader)
                                })
            }
            try requireAscending(producers.map(\.address), "producers")
            try reader.finish()
            try Self.check(chainName: Array(name.utf8), allocations: allocations, producers: producers)
            return Genesis(unchecked: name, timestamp, parameters, allocations, producers)
        }
    }

    private static func check(chainName: [UInt8], allocations: [GenesisAllocation],
                              producers: [GenesisProducer]) throws(DecodeError) {
        guard nameLimits.contains(chainName.count), chainName.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw DecodeError(field: "chainName", reason: "must be 1-32 printable ASCII characters without spaces")
        }
        guard allocationLimits.contains(allocations.count) else {
            throw DecodeError(field: "allocations", reason: "count \(allocations.count) outside 1...\(allocationLimits.upperBound)")
        }
        guard producerLimits.contains(producers.count) else {
            throw DecodeError(field: "producers", reason: "count \(producers.count) outside 1...\(producerLimits.upperBound)")
        }
        var seen = Set<Address>()
        var total = Amount.zero
        for (index, allocation) in allocations.enumerated() {
            guard seen.insert(allocation.address).inserted else {
                throw DecodeError(field: "allocations[\(index)].address", reason: "duplicate \(allocation.address)")
            }
            guard allocation.amount > .zero else {
                throw DecodeError(field: "allocations[\(index)].amount", reason: "must be positive")
            }
            guard let sum = total.adding(allocation.amount), sum <= Amount.totalSupply else {
                throw DecodeError(field: "allocations[\(index)].amount", reason: "total exceeds the supply of \(Amount.totalSupply)")
            }
            total = sum
        }
        guard total == Amount.totalSupply else {
            throw DecodeError(field: "allocations", reason: "total \(total) is not the supply of \(Amount.totalSupply)")
        }
        seen.removeAll()
        for (index, producer) in producers.enumerated() where !seen.insert(producer.address).inserted {
            throw DecodeError(field: "producers[\(index)].address", reason: "duplicate \(producer.address)")
        }
    }

    public func encode(to writer: inout BinaryWriter) {
        Self.encode(chainName, timestampMs, parameters, allocations, producers, to: &writer)
    }

    private static func encode(_ chainName: String, _ timestampMs: UInt64, _ parameters: ChainParameters,
                               _ allocations: [GenesisAllocation], _ producers: [GenesisProducer],
                               to writer: inout BinaryWriter) {
        writer.text(chainName)
        writer.u64(timestampMs)
        parameters.encode(to: &writer)
        writer.list(allocations, prefix: .u32) {
            $0.address($1.address)
            $0.amount($1.amount)
        }
        writer.list(producers) {
            $0.address($1.address)
            $1.registration.encode(to: &$0)
        }
    }
}
