import Ledger

/// Why a vote was not counted. A refused vote changes nothing.
public enum VoteRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// For a height at or below the last final block.
    case stale(height: UInt64, finalHeight: UInt64)
    /// The height is not the voted block's.
    case heightMismatch(vote: UInt64, block: UInt64)
    /// The voter is not a producer of the block's round.
    case notAProducer(Address)
    /// Not the producer's signing key's signature of the vote digest.
    case badSignature(Address)
    /// This vote (same producer, same block) was counted already.
    case duplicate
    /// The bytes are not a canonical vote.
    case malformed(DecodeError)

    public var description: String {
        switch self {
        case let .stale(height, finalHeight): "height: \(height) is not above the final height \(finalHeight)"
        case let .heightMismatch(vote, block): "height: \(vote) is not the block's \(block)"
        case let .notAProducer(producer): "producer: \(producer) is not a producer of the block's round"
        case let .badSignature(producer): "signature: not by the signing key of producer \(producer)"
        case .duplicate: "duplicate vote"
        case let .malformed(error): "malformed: \(error)"
        }
    }
}

/// What adding a valid vote did.
public enum VoteOutcome: Hashable, Sendable {
    /// Counted; no certificate yet (or the block had one already).
    case counted
    /// Counted, and it completed a quorum: the new certificate.
    case certified(QuorumCertificate)
    /// The producer had voted for another block at this height: the vote is not
    /// counted, the two are the evidence (reported once per producer and height).
    case equivocation(Evidence)
    /// A second conflicting vote from a producer already reported: ignored.
    case ignored
}

/// Aggregates verified votes per block into a `QuorumCertificate` once ⌊2n/3⌋ + 1 of
/// the block's round have signed, and catches producers voting twice at one height.
/// Votes for blocks not yet known wait in a bounded buffer (oldest dropped first).
public struct VoteCollector: Sendable {
    struct VoterHeight: Hashable, Sendable {
        let producer: Address
        let height: UInt64
    }

    private var tallies: [BlockID: [Address: BlockVote]] = [:]
    /// The first valid vote seen per producer and height (votes and certificates alike).
    private var firstVotes: [VoterHeight: BlockVote] = [:]
    private var reported: Set<VoterHeight> = []
    private var pending: [BlockID: [BlockVote]] = [:]
    private var pendingOrder: [BlockID] = []
    private var pendingCount = 0
    /// The most votes held for unseen blocks.
    public let pendingLimit: Int

    /// An empty collector holding at most `pendingLimit` votes for unseen blocks.
    public init(pendingLimit: Int = 1024) { self.pendingLimit = max(0, pendingLimit) }

    /// Votes waiting for their block.
    public var pendingVotes: Int { pendingCount }

    /// Checks and counts `vote` for a block of `blockHeight` produced in the round
    /// `schedule`: height, membership, duplicate, then the one signature check.
    /// `certified`: the block already has a certificate (the vote is only checked for
    /// equivocation then).
    public mutating func add(_ vote: BlockVote, blockHeight: UInt64, schedule: Schedule, chain: ChainID,
                             certified: Bool) throws(VoteRejection) -> VoteOutcome {
        guard vote.height == blockHeight else { throw .heightMismatch(vote: vote.height, block: blockHeight) }
        guard let member = schedule.member(vote.producer) else { throw .notAProducer(vote.producer) }
        let key = VoterHeight(producer: vote.producer, height: vote.height)
        let first = firstVotes[key]
        if let first, first.block == vote.block { throw .duplicate }
        if first != nil, reported.contains(key) { return .ignored }
        guard vote.isValid(chain: chain, signingKey: member.signingKey) else { throw .badSignature(vote.producer) }
        if let first {
            reported.insert(key)
            return .equivocation(.doubleVote(first: first, second: vote))
        }
        firstVotes[key] = vote
        guard !certified else { return .counted }
        tallies[vote.block, default: [:]][vote.producer] = vote
        let votes = tallies[vote.block]!
        guard votes.count >= schedule.quorum else { return .counted }
        tallies[vote.block] = nil
        let sorted = votes.values.sorted { $0.producer < $1.producer }.map(\.producerVote)
        return .certified(QuorumCertificate(block: vote.block, height: vote.height, votes: sorted))
    }

    /// Records the votes of a verified certificate, so a producer that signed it and
    /// another block at the same height is caught; returns the new evidence.
    public mutating func observe(_ certificate: QuorumCertificate) -> [Evidence] {
        var evidence: [Evidence] = []
        for producerVote in certificate.votes {
            let vote = BlockVote(block: certificate.block, height: certificate.height, producer: producerVote.producer,
                                 signature: producerVote.signature)
            let key = VoterHeight(producer: vote.producer, height: vote.height)
            guard let first = firstVotes[key] else {
                firstVotes[key] = vote
                continue
            }
            if first.block != vote.block, reported.insert(key).inserted {
                evidence.append(.doubleVote(first: first, second: vote))
            }
        }
        tallies[certificate.block] = nil
        return evidence
    }

    /// Keeps `vote` until its block arrives; false if it was already waiting.
    @discardableResult
    public mutating func buffer(_ vote: BlockVote) -> Bool {
        guard pendingLimit > 0, !(pending[vote.block]?.contains(vote) ?? false) else { return false }
        if pending[vote.block] == nil { pendingOrder.append(vote.block) }
        pending[vote.block, default: []].append(vote)
        pendingCount += 1
        while pendingCount > pendingLimit, !pendingOrder.isEmpty {
            let oldest = pendingOrder.removeFirst()
            pendingCount -= pending.removeValue(forKey: oldest)?.count ?? 0
        }
        return true
    }

    /// The buffered votes for `block`, removed from the buffer.
    public mutating func takePending(for block: BlockID) -> [BlockVote] {
        guard let votes = pending.removeValue(forKey: block) else { return [] }
        pendingOrder.removeAll { $0 == block }
        pendingCount -= votes.count
        return votes
    }

    /// Forgets everything at or below `height` (it is final) and tallies of blocks that
    /// are no longer in the tree.
    public mutating func prune(throughHeight height: UInt64, keeping live: (BlockID) -> Bool) {
        firstVotes = firstVotes.filter { $0.key.height > height }
        reported = reported.filter { $0.height > height }
        tallies = tallies.filter { live($0.key) }
        for (block, votes) in pending where votes.allSatisfy({ $0.height <= height }) {
            pending[block] = nil
            pendingCount -= votes.count
        }
        pendingOrder.removeAll { pending[$0] == nil }
    }
}
