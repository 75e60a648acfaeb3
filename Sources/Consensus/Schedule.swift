import Crypto
import Ledger

/// Slot arithmetic: slot `s` covers `[genesis + s × interval, genesis + (s + 1) × interval)`
/// in Unix milliseconds. Slot 0 belongs to the genesis; blocks start at slot 1.
public struct SlotClock: Hashable, Sendable {
    /// The genesis time (start of slot 0), Unix milliseconds.
    public let genesisMs: UInt64
    /// The slot length, milliseconds.
    public let intervalMs: UInt64

    /// A clock starting at `genesisMs` with slots of `intervalMs` (> 0).
    public init(genesisMs: UInt64, intervalMs: UInt64) {
        precondition(intervalMs > 0, "a slot lasts at least a millisecond")
        self.genesisMs = genesisMs
        self.intervalMs = intervalMs
    }

    /// The clock of a chain: its genesis time and `blockIntervalMs`.
    public init(genesis: Genesis) {
        self.init(genesisMs: genesis.timestampMs, intervalMs: UInt64(genesis.parameters.blockIntervalMs))
    }

    /// The slot `timeMs` falls in; nil before the genesis.
    public func slot(at timeMs: UInt64) -> UInt64? {
        timeMs < genesisMs ? nil : (timeMs - genesisMs) / intervalMs
    }

    /// The first millisecond of `slot`; nil if it does not fit in 64 bits.
    public func start(of slot: UInt64) -> UInt64? {
        let (offset, overflow) = slot.multipliedReportingOverflow(by: intervalMs)
        guard !overflow else { return nil }
        let (start, carry) = genesisMs.addingReportingOverflow(offset)
        return carry ? nil : start
    }

    /// Whether `timestampMs` lies inside `slot`.
    public func contains(slot: UInt64, timestampMs: UInt64) -> Bool {
        guard let start = start(of: slot), timestampMs >= start else { return false }
        return timestampMs - start < intervalMs
    }
}

/// One elected producer as the schedule knows it: its account, the key its blocks and
/// votes are signed with, and the stake that elected it.
public struct ScheduledProducer: Hashable, Sendable {
    /// The producer's account (what blocks name and votes carry).
    public let address: Address
    /// The registered key its votes are checked against.
    public let signingKey: Address
    /// Stake voting for it when the set was elected, base units.
    public let weight: UInt64

    /// A producer entry.
    public init(address: Address, signingKey: Address, weight: UInt64) {
        self.address = address
        self.signingKey = signingKey
        self.weight = weight
    }

    /// The schedule's view of an `Election` standing.
    public init(_ standing: Election.Standing) {
        self.init(address: standing.producer, signingKey: standing.registration.signingKey, weight: standing.weight)
    }
}

/// The producers of one round and who produces in which slot.
///
/// A round is `producers.count × slotsPerProducer` consecutive slots; the producer at
/// position `i` holds the `slotsPerProducer` consecutive slots starting at
/// `startSlot + i × slotsPerProducer`. Round 0 starts at slot 1 and is elected from the
/// genesis state. Round `r + 1` starts where round `r` ends; when no block at all falls
/// in a round, the rounds after it are numbered on as if each had happened, with the
/// same anchor. The set is `Election.elect(count: producerCount)` over the state after
/// the round's *anchor*, a final block; the order is `shuffle` seeded by the anchor's id
/// and the round number.
public struct Schedule: Hashable, Sendable {
    /// The round number, from 0.
    public let round: UInt64
    /// The round's first slot.
    public let startSlot: UInt64
    /// Consecutive slots each producer holds (the chain's `slotsPerProducer`).
    public let slotsPerProducer: UInt64
    /// The final block whose state elected the set and whose id seeded the order
    /// (`BlockID.none`: the genesis).
    public let anchor: BlockID
    /// In slot order (shuffled); never empty.
    public let producers: [ScheduledProducer]

    /// A round as given (`producers` already in slot order, non-empty).
    public init(round: UInt64, startSlot: UInt64, slotsPerProducer: UInt64, anchor: BlockID,
                producers: [ScheduledProducer]) {
        precondition(!producers.isEmpty && slotsPerProducer > 0, "a round has at least one slot")
        self.round = round
        self.startSlot = startSlot
        self.slotsPerProducer = slotsPerProducer
        self.anchor = anchor
        self.producers = producers
    }

    /// Round 0: the genesis producers elected from the genesis state, from slot 1.
    public static func first(elected: [Election.Standing], slotsPerProducer: UInt64) -> Schedule {
        Schedule(round: 0, startSlot: 1, slotsPerProducer: slotsPerProducer, anchor: .none,
                 producers: shuffle(elected.map(ScheduledProducer.init), anchor: .none, round: 0))
    }

    /// Slots in the round.
    public var slotCount: UInt64 { UInt64(producers.count) * slotsPerProducer }
    /// The first slot after the round.
    public var endSlot: UInt64 { startSlot + slotCount }
    /// Votes a quorum certificate needs in this round: ⌊2n/3⌋ + 1.
    public var quorum: Int { Self.quorum(producers: producers.count) }

    /// ⌊2n/3⌋ + 1 of `n` producers: any two quorums share more than n/3 producers.
    public static func quorum(producers n: Int) -> Int { n * 2 / 3 + 1 }

    /// Whether `slot` is in the round.
    public func contains(slot: UInt64) -> Bool { slot >= startSlot && slot < endSlot }

    /// Who produces in `slot`; nil outside the round.
    public func producer(at slot: UInt64) -> ScheduledProducer? {
        guard contains(slot: slot) else { return nil }
        return producers[Int((slot - startSlot) / slotsPerProducer)]
    }

    /// The member with account `address`, if it is one.
    public func member(_ address: Address) -> ScheduledProducer? {
        producers.first { $0.address == address }
    }

    /// The round that holds `slot` (≥ `endSlot`), following this one on the same branch:
    /// elected from the anchor's state (`elected`), numbered on over rounds without blocks.
    public func successor(containing slot: UInt64, anchor: BlockID, elected: [Election.Standing]) -> Schedule {
        precondition(slot >= endSlot && !elected.isEmpty, "the next round starts after this one and has producers")
        let length = UInt64(elected.count) * slotsPerProducer
        let skipped = (slot - endSlot) / length
        let round = self.round + 1 + skipped
        return Schedule(round: round, startSlot: endSlot + skipped * length, slotsPerProducer: slotsPerProducer,
                        anchor: anchor, producers: Self.shuffle(elected.map(ScheduledProducer.init),
                                                                anchor: anchor, round: round))
    }

    /// The round's order: a Fisher-Yates shuffle of `producers` sorted by address, driven
    /// by the stream of BLAKE2b-256 blocks
    /// `H("qlink/shuffle/v1" ‖ anchor id (32) ‖ round (u64 LE) ‖ counter (u64 LE))`,
    /// counter 0, 1, …, each read as four little-endian u64 words. For `i` from `n - 1`
    /// down to 1, `j` is the first word `w` with `w ≥ 2^64 mod (i + 1)`, reduced
    /// `mod (i + 1)` (rejection sampling: no modulo bias), and positions `i` and `j` swap.
    public static func shuffle(_ producers: [ScheduledProducer], anchor: BlockID, round: UInt64) -> [ScheduledProducer] {
        var order = producers.sorted { $0.address < $1.address }
        var stream = ShuffleStream(anchor: anchor, round: round)
        var index = order.count - 1
        while index > 0 {
            let other = Int(stream.uniform(below: UInt64(index + 1)))
            order.swapAt(index, other)
            index -= 1
        }
        return order
    }
}

/// The deterministic randomness of `Schedule.shuffle`.
struct ShuffleStream {
    static let tag = Array("qlink/shuffle/v1".utf8)
    private let prefix: [UInt8]
    private var counter: UInt64 = 0
    private var words: [UInt64] = []

    init(anchor: BlockID, round: UInt64) {
        var writer = BinaryWriter(capacity: 64)
        writer.raw(Self.tag)
        writer.raw(anchor.raw)
        writer.u64(round)
        prefix = writer.bytes
    }

    mutating func next() -> UInt64 {
        if words.isEmpty {
            var writer = BinaryWriter(capacity: prefix.count + 8)
            writer.raw(prefix)
            writer.u64(counter)
            counter += 1
            var reader = BinaryReader(Hash.blake2b(writer.bytes, length: 32))
            // Four words, consumed first to last.
            words = (0..<4).map { _ in (try? reader.u64("word")) ?? 0 }.reversed()
        }
        return words.removeLast()
    }

    /// Uniform in `0..<bound` (`bound` ≥ 1).
    mutating func uniform(below bound: UInt64) -> UInt64 {
        let threshold = (0 &- bound) % bound  // 2^64 mod bound
        while true {
            let word = next()
            if word >= threshold { return word % bound }
        }
    }
}
