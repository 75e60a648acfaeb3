import Dispatch
import Synchronization

/// Transaction ids whose signatures are known good, so each signature is verified once
/// however often the transaction is seen (gossip, mempool, block). Keyed by the id,
/// which covers the signature bytes, so a cached id can never vouch for other bytes.
///
/// Bounded: two generations of `capacity / 2` ids; when the current one fills, the
/// older is dropped whole. Thread-safe.
public final class SignatureCache: Sendable {
    public let capacity: Int
    private let generations: Mutex<(current: Set<TransactionID>, previous: Set<TransactionID>)>

    public init(capacity: Int = 200_000) {
        precondition(capacity >= 2, "a signature cache holds at least 2 ids")
        self.capacity = capacity
        generations = Mutex(([], []))
    }

    public func contains(_ id: TransactionID) -> Bool {
        generations.withLock { $0.current.contains(id) || $0.previous.contains(id) }
    }

    /// Records that `id`'s signatures are valid.
    public func insert(_ id: TransactionID) {
        let half = capacity / 2
        generations.withLock { state in
            guard !state.previous.contains(id) else { return }
            state.current.insert(id)
            if state.current.count >= half {
                state.previous = state.current
                state.current = []
                state.current.reserveCapacity(half)
            }
        }
    }

    /// Ids held now (at most `capacity`).
    public var count: Int { generations.withLock { $0.current.count + $0.previous.count } }
}

/// Verifies transaction signatures across the cores, skipping those the cache already
/// vouches for and caching the valid ones. Used by mempool admission and block
/// validation; `StateMachine` then applies with `SignatureCheck.cached`.
public struct ParallelVerifier: Sendable {
    public let cache: SignatureCache

    public init(cache: SignatureCache = SignatureCache()) { self.cache = cache }

    /// For each transaction: nil if all its signatures hold, else the failing field.
    public func verify(_ transactions: [SignedTransaction]) -> [String?] {
        let pending = transactions.indices.filter { !cache.contains(transactions[$0].id) }
        let outcomes = Self.concurrentMap(count: pending.count) { transactions[pending[$0]].invalidSignatureField() }
        var results = [String?](repeating: nil, count: transactions.count)
        for (slot, index) in pending.enumerated() {
            if let field = outcomes[slot] {
                results[index] = field
            } else {
                cache.insert(transactions[index].id)
            }
        }
        return results
    }

    /// The first transaction with an invalid signature, if any.
    public func firstInvalid(_ transactions: [SignedTransaction]) -> (index: Int, field: String)? {
        for (index, field) in verify(transactions).enumerated() {
            if let field { return (index, field) }
        }
        return nil
    }

    /// `body(0..<count)` computed on all cores (Dispatch's concurrentPerform), in order.
    /// Runs inline for fewer than two items; otherwise in at most 64 chunks of at least 4.
    public static func concurrentMap<T: Sendable>(count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 1 else { return (0..<count).map(body) }
        let chunkSize = max(4, (count + 63) / 64)
        let chunks = (count + chunkSize - 1) / chunkSize
        let results = Slots<T>(count: count)
        defer { results.release() }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = chunk * chunkSize
            for index in start..<min(start + chunkSize, count) { results.buffer[index] = body(index) }
        }
        return results.buffer.map { $0! }
    }
}

/// Result slots shared by concurrent workers; each index is written by exactly one
/// worker and read only after all have finished, hence `@unchecked Sendable`.
private struct Slots<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T?>

    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }

    func release() {
        buffer.deinitialize()
        buffer.deallocate()
    }
}
