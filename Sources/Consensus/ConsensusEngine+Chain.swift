import Crypto
import Ledger

/// Validation, acceptance and finality: the parts of the engine that change the tree.
extension ConsensusEngine {
    /// A block that passed every check, ready to insert.
    struct Validated {
        let node: TreeNode
        /// The merged writes from the root to the parent.
        let base: StateChanges
    }

    /// The block a `justify` certifies, from the tree or the final history.
    struct Certified {
        let id: BlockID
        let height: UInt64
        let parent: BlockID
        let justifiesParent: Bool
        let schedule: Schedule
        let certificate: QuorumCertificate?
    }

    // MARK: State views

    /// The merged writes of the blocks from just above the root to `node`.
    func cumulativeChanges(to node: TreeNode) -> StateChanges {
        if let cumulative, cumulative.id == node.id { return cumulative.changes }
        if let cumulative, cumulative.id == node.parent {
            var changes = cumulative.changes
            changes.merge(node.changes)
            return changes
        }
        var changes = StateChanges()
        for step in tree.path(to: node.id) { changes.merge(step.changes) }
        return changes
    }

    /// The state after `node`: the final state with the non-final writes laid over it.
    func view(at node: TreeNode) -> StateOverlay<Provider.State> {
        var overlay = StateOverlay(base: provider.finalState)
        if node.id != tree.rootID { overlay.commit(cumulativeChanges(to: node)) }
        return overlay
    }

    /// The producers a final block's state elects; nil once it is forgotten.
    func elected(after anchor: BlockID) -> [Election.Standing]? {
        if let record = history[anchor] { return record.elected }
        guard let node = tree[anchor] else { return nil }
        return Election.elect(view(at: node), count: Int(genesis.parameters.producerCount))
    }

    /// The round of a block at `slot` whose parent is `parent`: the parent's round while
    /// the slot is inside it, else the next round holding the slot, anchored at the newest
    /// block the parent's branch proves final.
    func schedule(forChildOf parent: TreeNode, slot: UInt64) throws(ProposalRejection) -> Schedule {
        if slot < parent.schedule.endSlot { return parent.schedule }
        guard let elected = elected(after: parent.branchFinal), !elected.isEmpty else {
            throw .anchorUnavailable(parent.branchFinal)
        }
        return parent.schedule.successor(containing: slot, anchor: parent.branchFinal, elected: elected)
    }

    // MARK: Validation

    /// Every check of a new block, cheapest first; changes nothing.
    func validate(_ block: Block, now: UInt64) throws(ProposalRejection) -> Validated {
        let header = block.header
        let limit = Int(genesis.parameters.maxBlockBytes)
        guard block.encoded.count <= limit else { throw .oversized(bytes: block.encoded.count, limit: limit) }
        guard header.chain == genesis.chainID else { throw .wrongChain(expected: genesis.chainID, found: header.chain) }
        guard !tree.contains(block.id), history[block.id] == nil else { throw .duplicate(block.id) }
        let root = tree.root
        guard header.height > root.height else { throw .notAboveFinal(height: header.height, finalHeight: root.height) }
        guard let parent = tree[header.parent] else { throw .unknownParent(header.parent) }
        guard header.height == parent.height + 1 else { throw .wrongHeight(height: header.height, parentHeight: parent.height) }
        guard header.slot > parent.slot else { throw .slotNotAfterParent(slot: header.slot, parentSlot: parent.slot) }
        guard clock.contains(slot: header.slot, timestampMs: header.timestampMs) else {
            throw .timestampOutsideSlot(timestampMs: header.timestampMs, slot: header.slot)
        }
        let (latest, overflow) = now.addingReportingOverflow(configuration.clockToleranceMs)
        guard overflow || header.timestampMs <= latest else { throw .fromTheFuture(timestampMs: header.timestampMs, nowMs: now) }
        let schedule = try schedule(forChildOf: parent, slot: header.slot)
        let expected = schedule.producer(at: header.slot)!.address
        guard expected == header.producer else {
            throw .wrongProducer(slot: header.slot, expected: expected, found: header.producer)
        }
        guard (proposals[ProposalKey(producer: header.producer, slot: header.slot)]?.count ?? 0) < 2 else {
            throw .tooManyBlocksInSlot(producer: header.producer, slot: header.slot)
        }
        let base = cumulativeChanges(to: parent)
        var view = StateOverlay(base: provider.finalState)
        view.commit(base)
        guard let registration = view.producer(header.producer) else { throw .unknownProducer(header.producer) }
        guard block.signature.isValid(for: block.id.raw, by: registration.signingKey) else {
            throw .badProducerSignature(header.producer)
        }
        var branchFinal = (id: parent.branchFinal, height: parent.branchFinalHeight)
        if let justify = header.justify {
            let target = try certified(by: justify, under: parent)
            if target.justifiesParent, target.height - 1 > branchFinal.height {
                branchFinal = (target.parent, target.height - 1)
            }
        }
        let changes: StateChanges
        do {
            changes = try machine.stageBlock(block, on: view, parent: parent.block?.header, verifier: verifier)
        } catch {
            throw .invalid(error)
        }
        let node = TreeNode(block: block, id: block.id, height: header.height, slot: header.slot,
                            timestampMs: header.timestampMs, parent: parent.id, schedule: schedule,
                            branchFinal: branchFinal.id, branchFinalHeight: branchFinal.height, changes: changes)
        return Validated(node: node, base: base)
    }

    /// Checks that `certificate` certifies an ancestor-or-self of `parent` (or a
    /// remembered final block) and verifies it against that block's round, unless it is
    /// the very certificate already held for the block.
    func certified(by certificate: QuorumCertificate, under parent: TreeNode) throws(ProposalRejection) -> Certified {
        let target: Certified
        if certificate.block != .none, let node = tree[certificate.block],
           tree.ancestor(of: parent.id, atHeight: node.height)?.id == node.id {
            target = Certified(id: node.id, height: node.height, parent: node.parent, justifiesParent: node.justifiesParent,
                               schedule: node.schedule, certificate: node.certificate)
        } else if certificate.block != .none, let record = history[certificate.block] {
            // Final, hence an ancestor of every block in the tree.
            target = Certified(id: record.id, height: record.height, parent: record.parent,
                               justifiesParent: record.justifiesParent, schedule: record.schedule, certificate: nil)
        } else {
            throw .justifyNotAncestor(certificate.block)
        }
        if target.certificate != certificate {
            do {
                try certificate.verify(chain: genesis.chainID, blockHeight: target.height, schedule: target.schedule)
            } catch {
                throw .badJustify(error)
            }
        }
        return target
    }

    // MARK: Acceptance and finality

    /// Inserts a validated block and takes in what it brings: double-proposal evidence,
    /// its `justify` (a certificate, maybe finality), votes that were waiting for it.
    mutating func accept(_ validated: Validated) -> [ConsensusAction] {
        let node = validated.node
        let block = node.block!
        tree.insert(node)
        var changes = validated.base
        changes.merge(node.changes)
        cumulative = (node.id, changes)
        var actions: [ConsensusAction] = []
        let key = ProposalKey(producer: block.header.producer, slot: node.slot)
        if let first = proposals[key]?.first {
            actions += record(.doubleProposal(first: first, second: SignedHeader(block)))
        }
        proposals[key, default: []].append(SignedHeader(block))
        if let justify = block.header.justify, justify.height > tree.root.height {
            for evidence in collector.observe(justify) { actions += record(evidence) }
            actions += certify(justify)
        }
        for vote in collector.takePending(for: node.id) {
            guard let current = tree[node.id] else { break }
            actions += (try? count(vote, for: current)) ?? []
        }
        return actions
    }

    /// Attaches a verified certificate to its block and applies the 2-chain rule: a
    /// certified block whose `justify` certifies its direct parent makes the parent final.
    mutating func certify(_ certificate: QuorumCertificate) -> [ConsensusAction] {
        guard tree.certify(certificate), let node = tree[certificate.block], node.justifiesParent,
              node.parent != tree.rootID, tree.contains(node.parent) else { return [] }
        return finalize(through: node.parent)
    }

    /// Commits the blocks from the root to `id` to the provider, oldest first, remembers
    /// them, and prunes everything that does not descend from the new final block.
    mutating func finalize(through id: BlockID) -> [ConsensusAction] {
        var done: [TreeNode] = []
        var failure: [ConsensusAction] = []
        var elected = history.last!.elected
        let count = Int(genesis.parameters.producerCount)
        for node in tree.path(to: id) {
            do {
                try provider.commitFinal(node.block!, changes: node.changes)
            } catch {
                failure = [.persistenceFailed("commit of block \(node.height) \(node.id): \(error)")]
                break
            }
            if affectsElection(node.changes) { elected = Election.elect(provider.finalState, count: count) }
            history.append(FinalRecord(id: node.id, height: node.height, parent: node.parent,
                                       justifiesParent: node.justifiesParent, schedule: node.schedule, elected: elected))
            done.append(node)
        }
        guard let last = done.last else { return failure }
        _ = tree.reroot(at: last.id)
        history.trim(keeping: tree.anchors)
        cumulative = nil
        let tree = self.tree
        collector.prune(throughHeight: last.height) { tree.contains($0) }
        proposals = proposals.filter { $0.key.slot > last.slot }
        return [.finalized(done.compactMap(\.block))] + failure
    }

    /// Whether writes can change the election: votes, registrations, or a voter's balance.
    func affectsElection(_ changes: StateChanges) -> Bool {
        if !changes.votes.isEmpty || !changes.producers.isEmpty { return true }
        let state = provider.finalState
        return changes.accounts.keys.contains { !state.votes(of: $0).isEmpty }
    }
}
