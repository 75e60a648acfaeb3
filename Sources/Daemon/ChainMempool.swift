import Ledger

/// Transactions submitted to this node and waiting for a block, oldest first. Bounded in
/// count and bytes; admission (validation against the head state with the waiting
/// transactions applied) is the node's, this only holds them. Not thread-safe: the chain
/// queue owns it.
final class ChainMempool {
    /// Transactions held at most.
    let capacity: Int
    /// Bytes of encodings held at most.
    let byteLimit: Int
    private(set) var transactions: [SignedTransaction] = []
    private var ids: Set<TransactionID> = []
    private(set) var bytes = 0

    init(capacity: Int, byteLimit: Int = 4 << 20) {
        self.capacity = capacity
        self.byteLimit = byteLimit
    }

    var count: Int { transactions.count }

    func contains(_ id: TransactionID) -> Bool { ids.contains(id) }

    /// Why `transaction` cannot be taken whatever it holds (full), or nil.
    func roomProblem(for transaction: SignedTransaction) -> String? {
        if transactions.count >= capacity { return "mempool full (\(capacity) transactions); try again after the next blocks" }
        if bytes + transaction.encoded.count > byteLimit { return "mempool full (\(bytes) bytes); try again after the next blocks" }
        return nil
    }

    func add(_ transaction: SignedTransaction) {
        guard ids.insert(transaction.id).inserted else { return }
        transactions.append(transaction)
        bytes += transaction.encoded.count
    }

    func remove(_ removed: Set<TransactionID>) {
        guard !removed.isEmpty else { return }
        transactions.removeAll { removed.contains($0.id) }
        ids.subtract(removed)
        bytes = transactions.reduce(0) { $0 + $1.encoded.count }
    }

    /// The oldest transactions whose encodings (each with its 2-byte length) fit `maxBytes`.
    func candidates(maxBytes: Int) -> [SignedTransaction] {
        var chosen: [SignedTransaction] = []
        var used = 0
        for transaction in transactions where used + 2 + transaction.encoded.count <= maxBytes {
            chosen.append(transaction)
            used += 2 + transaction.encoded.count
        }
        return chosen
    }
}
