import Consensus
import Control
import Crypto
import Dispatch
import Ledger
import Logging
import Posix
import Synchronization

/// Runs the station's node of the Qlink chain (see `ChainNode`) on one serial queue, off
/// Swift's cooperative threads: the store's appends and the safety record wait for fsync.
///
/// `run` opens the store (recovering it), replays the stored blocks into the engine in
/// steps, then ticks the engine a little after each slot starts and every 250 ms at most,
/// so on a single-station chain the head advances one block a slot and the block before
/// it becomes final with it. The control commands (`chain-status`, `chain-block`,
/// `chain-account`, `chain-tx-submit`, `chain-keys`) run on the same queue.
///
/// A node that cannot open (a damaged store, a store of another chain) or has no genesis
/// logs why and answers every command with it; the rest of the daemon runs on. An invalid
/// genesis file stops the daemon at start (`init` throws, naming the file and field).
public final class ChainService: Service, @unchecked Sendable {
    public let name = "chain"
    /// The chain, or nil when there is no genesis (then `unavailable` says why).
    public let genesis: Genesis?
    public let key: SigningKey
    public let address: Address
    private let directory: String
    private let mempoolCapacity: Int
    private let logger: Logger
    private let queue = DispatchQueue(label: "qlink.chain")
    /// Touched only on `queue`.
    private var node: ChainNode?
    /// What the status command and contributor read without waiting for the queue.
    private let snapshot: Mutex<Snapshot>
    /// Monotonic time of the last tick (or replay step): the watchdogs' view of the loop.
    let heartbeat = Atomic<UInt64>(SystemClock.monotonicNanoseconds())
    /// Longest wait between ticks.
    let tickInterval: Duration

    enum ReplayStep: Sendable { case more, done, failed(String) }

    struct Snapshot: Sendable {
        var status: ChainStatusReport?
        /// Why the node is not running (nil while starting or running).
        var problem: String?
    }

    /// Loads (or, on board sim or with `[chain] single_station = yes`, creates) the genesis.
    /// Throws if the genesis file exists but is not a valid genesis, or cannot be created.
    public init(settings: Settings, key: SigningKey, logger: Logger, tickInterval: Duration = .milliseconds(250)) throws(ChainGenesis.Failure) {
        self.key = key
        address = Address(key.publicKey)
        directory = settings.chainDirectory
        mempoolCapacity = settings.chain.mempoolTransactions
        self.logger = logger
        self.tickInterval = tickInterval
        do {
            let (genesis, created) = try ChainGenesis.loadOrCreate(settings: settings, key: key, nowMs: Self.now())
            self.genesis = genesis
            snapshot = Mutex(Snapshot())
            let producers = genesis.producers.map(\.address)
            let role = producers == [address] ? "single-station chain: this station produces every block"
                : producers.contains(address) ? "one of \(producers.count) genesis producers" : "not a genesis producer"
            logger.notice("chain \(genesis.chainName) \(genesis.chainID): genesis \(created ? "created" : "loaded") at \(settings.chainGenesisFile); \(role)")
        } catch where error.missing {
            genesis = nil
            snapshot = Mutex(Snapshot(problem: error.description))
            logger.error("the chain node is not started: \(error)")
        }
    }

    static func now() -> UInt64 { UInt64(max(0, SystemClock.wallMilliseconds())) }

    public func run() async throws {
        guard let genesis else {
            while !Task.isCancelled {
                heartbeat.store(SystemClock.monotonicNanoseconds(), ordering: .relaxed)
                try? await Task.sleep(for: .seconds(5))
            }
            return
        }
        let opened: String? = await perform { [self] in
            do {
                node = try ChainNode(genesis: genesis, directory: directory, key: key, mempoolCapacity: mempoolCapacity, logger: logger)
                publish()
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let opened { fail(opened) }
        var failed = opened != nil
        while !Task.isCancelled && !failed {
            let step: ReplayStep = await perform { [self] in
                guard let node else { return .failed("no node") }
                do {
                    let done = try node.replay(maxBlocks: 256, now: Self.now())
                    publish()
                    return done ? .done : .more
                } catch {
                    self.node = nil
                    node.close()
                    return .failed("\(error)")
                }
            }
            heartbeat.store(SystemClock.monotonicNanoseconds(), ordering: .relaxed)
            switch step {
            case .more: continue
            case .done: break
            case let .failed(problem):
                fail(problem)
                failed = true
            }
            break
        }
        let clock = SlotClock(genesis: genesis)
        while !Task.isCancelled {
            if !failed {
                await perform { [self] in
                    guard let node else { return }
                    node.tick(now: Self.now())
                    publish()
                }
            }
            heartbeat.store(SystemClock.monotonicNanoseconds(), ordering: .relaxed)
            do { try await Task.sleep(for: delayToNextTick(clock: clock, now: Self.now())) } catch { break }
        }
        await perform { [self] in
            node?.close()
            node = nil
        }
        logger.info("chain node stopped")
    }

    /// Ticks land a little after each slot starts (when a producer's block is due), and
    /// at most `tickInterval` apart.
    func delayToNextTick(clock: SlotClock, now: UInt64) -> Duration {
        let limit = Int64(tickInterval.components.seconds * 1000 + tickInterval.components.attoseconds / 1_000_000_000_000_000)
        guard now >= clock.genesisMs else { return .milliseconds(min(limit, Int64(clock.genesisMs - now))) }
        let offset = min(120, clock.intervalMs / 4)
        let phase = (now - clock.genesisMs) % clock.intervalMs
        let untilDue = phase < offset ? offset - phase : clock.intervalMs - phase + offset
        return .milliseconds(max(10, min(limit, Int64(untilDue))))
    }

    private func fail(_ problem: String) {
        logger.critical("the chain node stopped: \(problem)")
        snapshot.withLock {
            $0.problem = problem
            $0.status = nil
        }
    }

    /// Updates the snapshot from the node (on the queue).
    private func publish() {
        guard let node else { return }
        let status = node.statusReport
        snapshot.withLock { $0.status = status }
    }

    private func perform<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    /// Runs `body` with the node on the queue, or says why there is none.
    private func withNode<T: Sendable>(_ body: @escaping @Sendable (ChainNode) -> Result<T, ChainNodeError>) async -> Result<T, ChainNodeError> {
        await perform { [self] in
            guard let node else { return .failure(ChainNodeError(unavailable)) }
            return body(node)
        }
    }

    /// Why commands cannot be answered: no genesis, a failure, or still opening.
    private var unavailable: String {
        let problem = snapshot.withLock { $0.problem }
        return problem.map { "the chain node is not running: \($0)" } ?? "the chain node is starting; try again shortly"
    }

    // MARK: Control

    /// The control commands, by name.
    var handlers: [String: ControlHandler] {
        [
            "chain-status": { [self] _ in
                guard let status = snapshot.withLock({ $0.status }) else { return ControlReplies.failure(unavailable) }
                return ControlReplies.success(status)
            },
            "chain-block": { [self] request in
                guard let text = request.arguments["height"], let height = UInt64(text) else {
                    return ControlReplies.failure("chain-block needs {\"height\":\"N\"} with N a whole number")
                }
                let result: Result<ChainBlockReport, ChainNodeError> = await withNode { node in
                    do {
                        guard let report = try node.blockReport(height: height) else {
                            return .failure(ChainNodeError("no block at height \(height) (the head is \(node.statusReport.height))"))
                        }
                        return .success(report)
                    } catch {
                        return .failure(ChainNodeError("cannot read block \(height): \(error)"))
                    }
                }
                return Self.reply(result)
            },
            "chain-account": { [self] request in
                guard let text = request.arguments["address"], let account = Address(hex: text) else {
                    return ControlReplies.failure("address: expected 64 hex digits, got '\(request.arguments["address"] ?? "")'")
                }
                let result: Result<ChainAccountReport, ChainNodeError> = await withNode { node in
                    node.accountReport(account).map { .success($0) }
                        ?? .failure(ChainNodeError("the node is still replaying its stored blocks; try again shortly"))
                }
                return Self.reply(result)
            },
            "chain-tx-submit": { [self] request in
                guard let text = request.arguments["tx"] else {
                    return ControlReplies.failure("chain-tx-submit needs {\"tx\":\"HEX\"}, the transaction's canonical signed encoding")
                }
                guard let bytes = Hex.decode(text.trimmingWhitespace()) else {
                    return ControlReplies.failure("tx: not hex (the canonical signed encoding, two hex digits a byte)")
                }
                let result: Result<ChainSubmitReport, ChainNodeError> = await withNode { node in
                    node.submit(bytes).map { transaction in
                        ChainSubmitReport(id: transaction.id.description, sender: transaction.body.sender.description,
                                          nonce: transaction.body.nonce, payload: transaction.body.payload.name)
                    }
                }
                return Self.reply(result)
            },
            "chain-keys": { [self] _ in
                ControlReplies.success(ChainKeysReport(address: address.description, chainID: genesis?.chainID.description ?? "",
                                                       chainName: genesis?.chainName ?? ""))
            },
        ]
    }

    /// Adds the chain's heights to `status`.
    func contribute(to report: inout StatusReport) {
        guard let status = snapshot.withLock({ $0.status }) else { return }
        report.chainHeight = status.height
        report.chainFinalHeight = status.finalHeight
    }

    /// The watchdogs' view of the node's loop.
    func healthBeat(limit: Duration = .seconds(60)) -> HealthCheck.Heartbeat {
        HealthCheck.Heartbeat(name: "chain loop", limit: limit) { [self] in heartbeat.load(ordering: .relaxed) }
    }

    private static func reply<T: Codable & Sendable>(_ result: Result<T, ChainNodeError>) -> [UInt8] {
        switch result {
        case let .success(value): ControlReplies.success(value)
        case let .failure(error): ControlReplies.failure(error.description)
        }
    }
}
