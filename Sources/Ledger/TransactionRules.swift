/// The rules of each transaction, applied to an overlay. Cheap checks come first and
/// the signature (the one expensive step) only after the nonce and funds are known to
/// be right, so replays and spam cost a few dictionary lookups.
extension StateMachine {
    /// Validates and stages `transaction`; `signatures == nil` means already verified.
    func applyStaged<S: LedgerState>(_ transaction: SignedTransaction, in context: BlockContext,
                                     to state: inout StateOverlay<S>, signatures: SignatureCheck?) throws(TransactionRejection) {
        let body = transaction.body
        let size = transaction.encoded.count
        guard size <= Int(parameters.maxTransactionBytes) else {
            throw .oversized(bytes: size, limit: Int(parameters.maxTransactionBytes))
        }
        guard body.chain == chainID else { throw .wrongChain(expected: chainID, found: body.chain) }
        guard context.height <= body.validUntil else { throw .expired(validUntil: body.validUntil, height: context.height) }
        guard let required = parameters.requiredFee(bytes: size) else { throw .amountOverflow(field: "fee") }
        guard body.fee >= required else { throw .feeTooLow(fee: body.fee, required: required) }

        var sender = state.account(body.sender) ?? .empty
        guard body.nonce > sender.nonce else {
            throw .replayedNonce(account: body.sender, nonce: body.nonce, last: sender.nonce)
        }
        guard body.nonce == sender.nonce + 1 else {
            throw .futureNonce(account: body.sender, nonce: body.nonce, expected: sender.nonce + 1)
        }
        let (debit, debitField) = Self.debit(of: body.payload)
        guard let needed = body.fee.adding(debit) else { throw .amountOverflow(field: debitField) }
        guard let remaining = sender.balance.subtracting(needed) else {
            throw .insufficientFunds(account: body.sender, needed: needed, available: sender.balance)
        }
        try check(transaction, signatures)

        sender.balance = remaining
        sender.nonce = body.nonce
        state.setAccount(body.sender, sender)
        try applyPayload(transaction, in: context, to: &state)
        try state.credit(context.producer, body.fee, field: "fee")
    }

    /// What the payload takes from the sender on top of the fee, and its field.
    private static func debit(of payload: TransactionPayload) -> (Amount, String) {
        switch payload {
        case let .transfer(_, amount): (amount, "payload.transfer.amount")
        case let .openSession(_, escrow): (escrow, "payload.openSession.escrow")
        default: (.zero, "fee")
        }
    }

    private func check(_ transaction: SignedTransaction, _ signatures: SignatureCheck?) throws(TransactionRejection) {
        switch signatures {
        case nil:
            return
        case .verify:
            if let field = transaction.invalidSignatureField() { throw .badSignature(field: field) }
        case let .cached(verifier):
            if let field = verifier.verify([transaction])[0] { throw .badSignature(field: field) }
        }
    }

    private func applyPayload<S: LedgerState>(_ transaction: SignedTransaction, in context: BlockContext,
                                              to state: inout StateOverlay<S>) throws(TransactionRejection) {
        let sender = transaction.body.sender
        switch transaction.body.payload {
        case let .transfer(to, amount):
            guard amount > .zero else { throw .invalid(field: "payload.transfer.amount", reason: "must be positive") }
            try state.credit(to, amount, field: "payload.transfer.amount")

        case let .vote(producers):
            for (index, producer) in producers.enumerated() where state.producer(producer) == nil {
                throw .invalid(field: "payload.vote.producers[\(index)]", reason: "\(producer) is not a registered producer")
            }
            state.setVotes(sender, producers)

        case let .registerProducer(registration):
            state.setProducer(sender, registration)

        case let .registerAsset(record):
            state.addAsset(AssetEntry(id: transaction.id, station: sender, record: record, height: context.height,
                                      previous: state.latestAsset(of: sender)))

        case let .setBillingPolicy(policy):
            state.setBillingPolicy(sender, policy)

        case let .openSession(station, escrow):
            try openSession(transaction.id, subscriber: sender, station: station, escrow: escrow, context, &state)

        case let .settleSession(signed):
            try settleSession(signed.receipt, station: sender, context, &state)

        case let .closeSession(id):
            try closeSession(id, sender: sender, context, &state)
        }
    }

    private func openSession<S: LedgerState>(_ id: SessionID, subscriber: Address, station: Address, escrow: Amount,
                                             _ context: BlockContext, _ state: inout StateOverlay<S>) throws(TransactionRejection) {
        guard escrow > .zero else { throw .invalid(field: "payload.openSession.escrow", reason: "must be positive") }
        guard station != subscriber else {
            throw .invalid(field: "payload.openSession.station", reason: "cannot open a session with oneself")
        }
        guard let policy = state.billingPolicy(of: station) else {
            throw .invalid(field: "payload.openSession.station", reason: "\(station) has no billing policy")
        }
        guard escrow >= policy.minimumPrepaid else {
            throw .invalid(field: "payload.openSession.escrow", reason: "\(escrow) < the station's minimum \(policy.minimumPrepaid)")
        }
        state.setSession(Session(id: id, subscriber: subscriber, station: station, pricePerMegabyte: policy.pricePerMegabyte,
                                 timeoutBlocks: policy.sessionTimeoutBlocks, openedAt: context.height, escrow: escrow))
    }

    private func settleSession<S: LedgerState>(_ receipt: SessionReceipt, station: Address, _ context: BlockContext,
                                               _ state: inout StateOverlay<S>) throws(TransactionRejection) {
        let field = "payload.settleSession.receipt"
        guard var session = state.session(receipt.session) else {
            throw .invalid(field: "\(field).session", reason: "no open session \(receipt.session)")
        }
        guard station == session.station else {
            throw .invalid(field: "sender", reason: "only the session's station \(session.station) may settle it")
        }
        guard receipt.subscriber == session.subscriber else {
            throw .invalid(field: "\(field).subscriber", reason: "not the session's subscriber \(session.subscriber)")
        }
        guard receipt.cumulativeBytes > session.settledBytes else {
            throw .invalid(field: "\(field).cumulativeBytes",
                           reason: "\(receipt.cumulativeBytes) is not above the \(session.settledBytes) already settled")
        }
        guard let payment = receipt.cumulativeAmount.subtracting(session.settledAmount) else {
            throw .invalid(field: "\(field).cumulativeAmount",
                           reason: "\(receipt.cumulativeAmount) is below the \(session.settledAmount) already settled")
        }
        if let charge = session.pricePerMegabyte.charge(forBytes: receipt.cumulativeBytes), receipt.cumulativeAmount > charge {
            throw .invalid(field: "\(field).cumulativeAmount",
                           reason: "\(receipt.cumulativeAmount) exceeds the price of \(receipt.cumulativeBytes) bytes, \(charge)")
        }
        guard let escrow = session.escrow.subtracting(payment) else {
            throw .invalid(field: "\(field).cumulativeAmount", reason: "payment \(payment) exceeds the escrow \(session.escrow)")
        }
        session.escrow = escrow
        session.settledBytes = receipt.cumulativeBytes
        session.settledAmount = receipt.cumulativeAmount
        session.lastActivity = context.height
        state.setSession(session)
        try state.credit(station, payment, field: "\(field).cumulativeAmount")
    }

    private func closeSession<S: LedgerState>(_ id: SessionID, sender: Address, _ context: BlockContext,
                                              _ state: inout StateOverlay<S>) throws(TransactionRejection) {
        guard let session = state.session(id) else {
            throw .invalid(field: "payload.closeSession.session", reason: "no open session \(id)")
        }
        if sender == session.subscriber {
            guard context.height >= session.subscriberMayCloseAt else {
                throw .invalid(field: "payload.closeSession.session",
                               reason: "the subscriber may close it from height \(session.subscriberMayCloseAt); the station may settle until then")
            }
        } else if sender != session.station {
            throw .invalid(field: "sender", reason: "\(sender) is not a party to session \(id)")
        }
        state.closeSession(id)
        try state.credit(session.subscriber, session.escrow, field: "payload.closeSession.session")
    }
}

extension StateOverlay {
    /// Adds `amount` to `address`'s balance.
    mutating func credit(_ address: Address, _ amount: Amount, field: String) throws(TransactionRejection) {
        guard amount > .zero else { return }
        var account = account(address) ?? .empty
        guard let balance = account.balance.adding(amount) else { throw .amountOverflow(field: field) }
        account.balance = balance
        setAccount(address, account)
    }
}
