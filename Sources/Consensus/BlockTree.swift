import Ledger

/// A block the engine knows, with what consensus derived about it.
public struct TreeNode: Sendable {
    /// The block id (`BlockID.none` for the genesis root).
    public let id: BlockID
    /// Height, slot and timestamp of the header (0, 0 and the genesis time for the genesis).
    public let height: UInt64
    public let slot: UInt64
    public let timestampMs: UInt64
    /// The parent's id (`BlockID.none` above the genesis).
    public let parent: BlockID
    /// nil only for the genesis root.
    public let block: Block?
    /// The round the block was produced in, on its branch.
    public let schedule: Schedule
    /// The newest block proven final by the quorum certificates in the headers of this
    /// branch up to this block (the genesis if none): the anchor of the next round.
    public let branchFinal: BlockID
    /// The height of `branchFinal`.
    public let branchFinalHeight: UInt64
    /// A verified certificate for this block, once one is known (from collected votes or
    /// a child's `justify`); the root's is kept if it had one.
    public internal(set) var certificate: QuorumCertificate?
    /// Children held in the tree, in arrival order.
    public internal(set) var children: [BlockID] = []
    /// What the block wrote, staged on its parent's state.
    let changes: StateChanges

    init(block: Block?, id: BlockID, height: UInt64, slot: UInt64, timestampMs: UInt64, parent: BlockID,
         schedule: Schedule, branchFinal: BlockID, branchFinalHeight: UInt64, certificate: QuorumCertificate? = nil, changes: StateChanges) {
        self.block = block
        self.id = id
        self.height = height
        self.slot = slot
        self.timestampMs = timestampMs
        self.parent = parent
        self.schedule = schedule
        self.branchFinal = branchFinal
        self.branchFinalHeight = branchFinalHeight
        self.certificate = certificate
        self.changes = changes
    }

    /// The certificate the block's header carries.
    public var justify: QuorumCertificate? { block?.header.justify }
    /// The height `justify` certifies (0 for none: the genesis).
    public var justifyHeight: UInt64 { justify?.height ?? 0 }
    /// Whether `justify` certifies the direct parent: the first half of the 2-chain rule.
    public var justifiesParent: Bool { justify.map { $0.block == parent } ?? false }
}

/// The blocks above the last final block: the root (the final block itself) and every
/// valid block descending from it, with their certificates.
///
/// Fork choice (`head`): start at the root; while the current block has children, step
/// to the child whose subtree holds the highest certified block (by height; a subtree
/// with none ranks lowest), breaking ties by the earlier timestamp, then by the lower
/// block id (byte order). The block reached is the head: producers extend it and voters
/// vote only for it. The branch of the highest certified block always wins, so the
/// highest QC a producer knows is an ancestor of its head.
public struct BlockTree: Sendable {
    /// The id of the last final block.
    public private(set) var rootID: BlockID
    private var nodes: [BlockID: TreeNode]

    init(root: TreeNode) {
        rootID = root.id
        nodes = [root.id: root]
    }

    /// The last final block.
    public var root: TreeNode { nodes[rootID]! }

    /// Non-final blocks held (the root excluded).
    public var count: Int { nodes.count - 1 }

    /// The block `id` if it is the root or above it.
    public subscript(id: BlockID) -> TreeNode? { nodes[id] }

    /// Whether block `id` is the root or a block above it.
    public func contains(_ id: BlockID) -> Bool { nodes[id] != nil }

    /// Every non-final block, lowest first.
    public var blocks: [Block] {
        nodes.values.filter { $0.id != rootID }.sorted { ($0.height, $0.id) < ($1.height, $1.id) }.compactMap(\.block)
    }

    /// The anchors (`branchFinal`) the blocks held still name.
    var anchors: Set<BlockID> { Set(nodes.values.map(\.branchFinal)) }

    mutating func insert(_ node: TreeNode) {
        precondition(nodes[node.id] == nil && nodes[node.parent] != nil, "a new block under a known parent")
        nodes[node.id] = node
        nodes[node.parent]!.children.append(node.id)
    }

    /// Records a verified certificate; false if the block had one already or is unknown.
    mutating func certify(_ certificate: QuorumCertificate) -> Bool {
        guard let node = nodes[certificate.block], node.certificate == nil else { return false }
        nodes[certificate.block]!.certificate = certificate
        return true
    }

    /// The blocks from just above the root down to `id`, oldest first (empty for the root).
    public func path(to id: BlockID) -> [TreeNode] {
        var path: [TreeNode] = []
        var current = nodes[id]
        while let node = current, node.id != rootID {
            path.append(node)
            current = nodes[node.parent]
        }
        return path.reversed()
    }

    /// The ancestor-or-self of `id` at `height`, if it is in the tree.
    public func ancestor(of id: BlockID, atHeight height: UInt64) -> TreeNode? {
        var current = nodes[id]
        while let node = current, node.height > height { current = nodes[node.parent] }
        return current.flatMap { $0.height == height ? $0 : nil }
    }

    /// The highest certified block on the branch ending at `id` (the root if none above).
    public func highestCertified(onBranchOf id: BlockID) -> TreeNode {
        var current = nodes[id]
        while let node = current, node.id != rootID {
            if node.certificate != nil { return node }
            current = nodes[node.parent]
        }
        return root
    }

    /// The fork-choice head (see the type's documentation).
    public var head: TreeNode {
        // Best certified height per subtree, children before parents (they are higher).
        var best: [BlockID: UInt64] = [:]
        for node in nodes.values.sorted(by: { $0.height > $1.height }) {
            var value = node.certificate != nil ? node.height : nil
            if let below = best[node.id] { value = max(value ?? 0, below) }
            if let value, node.id != rootID {
                best[node.parent] = max(best[node.parent] ?? 0, value)
                best[node.id] = value
            }
        }
        var current = root
        while !current.children.isEmpty {
            let children = current.children.map { nodes[$0]! }
            current = children.min { a, b in
                let (rankA, rankB) = (best[a.id].map { Int64($0) } ?? -1, best[b.id].map { Int64($0) } ?? -1)
                if rankA != rankB { return rankA > rankB }
                if a.timestampMs != b.timestampMs { return a.timestampMs < b.timestampMs }
                return a.id < b.id
            }!
        }
        return current
    }

    /// Makes `id` the root: returns the blocks that became final, oldest first, and drops
    /// every block that does not descend from the new root.
    mutating func reroot(at id: BlockID) -> [TreeNode] {
        let finalized = path(to: id)
        guard !finalized.isEmpty else { return [] }
        var kept: [BlockID: TreeNode] = [:]
        var pending = [id]
        while let next = pending.popLast() {
            let node = nodes[next]!
            kept[next] = node
            pending.append(contentsOf: node.children)
        }
        nodes = kept
        rootID = id
        return finalized
    }
}
