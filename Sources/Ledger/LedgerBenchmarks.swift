import Crypto

/// Measurements for `make bench` (call from a release build). Both run on the calling
/// thread only, so they compare one core against one core; the target is
/// `validateTransfersPerSecond ≥ 0.8 × ed25519VerifyPerSecond`.
public enum LedgerBenchmarks {
    /// Ed25519 verifications of 32-byte digests per second (libsodium through Crypto).
    public static func ed25519VerifyPerSecond(seconds: Double) -> Double {
        let key = SigningKey(seed: [UInt8](repeating: 7, count: 32))!
        let messages = (0..<64).map { Hash.blake2b([UInt8(truncatingIfNeeded: $0)], length: 32) }
        let signatures = messages.map { key.sign($0) }
        let publicKey = key.publicKey
        var verified = 0
        var allValid = true
        let clock = ContinuousClock()
        let start = clock.now
        repeat {
            for index in messages.indices {
                allValid = publicKey.verify(signatures[index], for: messages[index]) && allValid
            }
            verified += messages.count
        } while (clock.now - start).seconds < seconds
        precondition(allValid, "benchmark signatures must verify")
        return Double(verified) / (clock.now - start).seconds
    }

    /// Transfers per second through the whole path a block's transaction takes, on one
    /// core: decode the wire bytes, check chain, expiry, fee, nonce and funds, verify the
    /// signature, apply to an `InMemoryLedgerState` (256 senders, fees to a producer).
    /// Signing happens between timed batches and is not counted.
    public static func validateTransfersPerSecond(seconds: Double) -> Double {
        let senders = (0..<256).map { SigningKey(seed: Hash.blake2b([1, UInt8($0)], length: 32))! }
        let producerKey = SigningKey(seed: [UInt8](repeating: 9, count: 32))!
        let producer = Address(producerKey.publicKey)
        let share = Amount(units: Amount.totalSupply.units / UInt64(senders.count))
        let genesis = try! Genesis(
            chainName: "qlink-bench", timestampMs: 0, parameters: .standard,
            allocations: senders.map { GenesisAllocation(address: Address($0.publicKey), amount: share) },
            producers: [GenesisProducer(address: producer,
                                        registration: ProducerRegistration(name: "bench", url: "", signingKey: producer))])
        let machine = StateMachine(genesis: genesis)
        var state = InMemoryLedgerState(genesis: genesis)
        let context = BlockContext(height: 1, producer: producer)
        let fee = machine.parameters.requiredFee(bytes: 193)!
        var nonce: UInt64 = 0
        var applied = 0
        var elapsed = 0.0
        let clock = ContinuousClock()
        repeat {
            var batch: [[UInt8]] = []
            for _ in 0..<8 {
                nonce += 1
                for (index, key) in senders.enumerated() {
                    let recipient = Address(senders[(index + Int(nonce)) % senders.count].publicKey)
                    let body = TransactionBody(chain: machine.chainID, sender: Address(key.publicKey), nonce: nonce, fee: fee,
                                               payload: .transfer(to: recipient, amount: Amount(units: 1000)))
                    batch.append(try! SignedTransaction.sign(body, with: key).encoded)
                }
            }
            let start = clock.now
            for bytes in batch {
                try! machine.apply(bytes: bytes, in: context, to: &state)
            }
            elapsed += (clock.now - start).seconds
            applied += batch.count
        } while elapsed < seconds
        return Double(applied) / elapsed
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
