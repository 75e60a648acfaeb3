import HAL
import Logging
import Posix
import Synchronization

/// How a board's radio front end turns OpenBTS's attenuation into output power.
public struct PowerCalibration: Sendable, Hashable {
    /// The board's output at 0 dB attenuation, in dBm (e.g. 20 dBm for an FSM9016-class front end).
    public var maximumOutputDBm: Double

    public init(maximumOutputDBm: Double) {
        self.maximumOutputDBm = maximumOutputDBm
    }

    /// The attenuation giving `dBm`: `maximumOutputDBm − dBm`, rounded, never below 0 (a power
    /// above what the board can give is then its maximum).
    public func attenuation(for dBm: Double) -> Int {
        let exact = (maximumOutputDBm - dBm).rounded()
        guard exact.isFinite, exact > 0 else { return 0 }
        return Int(min(exact, 1000))
    }
}

/// How `OpenBTSRadio` watches OpenBTS and comes back after losing it.
public struct OpenBTSTiming: Sendable, Hashable {
    /// How often `run` reads `gprs list` to find attaches and detaches (it is also the keepalive).
    public var pollInterval: Duration
    /// The first wait before reconnecting; it doubles after each failed attempt…
    public var initialBackoff: Duration
    /// …up to this.
    public var maximumBackoff: Duration

    public init(pollInterval: Duration = .seconds(2), initialBackoff: Duration = .milliseconds(200),
                maximumBackoff: Duration = .seconds(5)) {
        self.pollInterval = pollInterval
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
    }
}

/// The cellular radio as OpenBTS 5 runs it, driven through its CLI port (TCP, by default
/// `127.0.0.1:49300`; each message a 4-byte big-endian length and ASCII text).
///
/// OpenBTS keeps no attach state, so `run` derives it: every `pollInterval` it reads
/// `gprs list` and reports `.subscriberAttached` / `.subscriberDetached` as GMM contexts in
/// `GmmRegisteredNormal` appear and go (see `OpenBTSAttachTracker`), enforces the capacity of
/// the last applied configuration and the blocked list by detaching, and reports
/// `.attachRefused`. When OpenBTS goes away it reports `.degraded`, reconnects with back-off,
/// and on return reports `.countersReset` if OpenBTS restarted (with `.subscriberDetached` for
/// everyone it had) and `.restored`.
///
/// Capabilities: byte counters, detach, block, live power control. Band and channel are
/// static keys in OpenBTS (`apply` reports them in `needsRestart`), so no live reconfiguration.
public final class OpenBTSRadio: Radio {
    /// `OpenBTS <host>:<port>`, used in messages and events.
    public let name: String
    /// Where OpenBTS's CLI listens (`CLI.Interface`, an IPv4 address) …
    public let host: String
    /// … and on which port (`CLI.Port`).
    public let port: UInt16
    /// Turns the configured dBm into OpenBTS's attenuation.
    public let calibration: PowerCalibration
    let counterWidth: CounterWidth
    let commandTimeout: Duration
    let timing: OpenBTSTiming
    let stateFile: String?
    let logger: Logger
    let sequence = OpenBTSSequence()

    struct Core {
        var link = LinkState.down
        /// Set while connected and in step with OpenBTS.
        var connection: OpenBTSConnection?
        var running = false
        /// The capacity of the last applied configuration; nil (no limit) before one.
        var capacity: Int?
        var blocked: Set<String> = []
    }

    /// What is reported, under its own lock (taken before `core` when both are needed) so
    /// the sink sees events in order and may still read `state`.
    struct Reporting {
        var sink: HALEventSink?
        var tracker: OpenBTSAttachTracker
        /// The sequence number of the newest `gprs list` reading applied.
        var lastReading: UInt64 = 0
        /// The OpenBTS process connected to, when its `uptime` says when it started.
        var process: OpenBTSTrackerFile.Process?
        /// The last problem saving the tracker's state (said once).
        var saveProblem: String?
    }

    let core = Mutex(Core())
    let reporting: Mutex<Reporting>

    /// - Parameters:
    ///   - calibration: the board's output at 0 dB attenuation, to turn dBm into attenuation.
    ///   - counterWidth: how wide OpenBTS's per-MS byte counters are (32-bit ones wrap); the
    ///     counters this backend reports are its own 64-bit sums and never wrap.
    ///   - commandTimeout: the longest any one command may take, queueing included.
    ///   - stateFile: where the attach state is kept after every reading (in the runtime
    ///     directory), to count on after a crash of the daemon while OpenBTS runs on.
    public init(host: String = "127.0.0.1", port: UInt16 = 49300, calibration: PowerCalibration,
                counterWidth: CounterWidth, commandTimeout: Duration, stateFile: String? = nil, logger: Logger,
                timing: OpenBTSTiming = OpenBTSTiming()) {
        self.stateFile = stateFile
        self.host = host
        self.port = port
        name = "OpenBTS \(host):\(port)"
        self.calibration = calibration
        self.counterWidth = counterWidth
        self.commandTimeout = commandTimeout
        self.timing = timing
        self.logger = logger
        reporting = Mutex(Reporting(tracker: OpenBTSAttachTracker(width: counterWidth)))
    }

    /// Byte counters, detach, block and live power control; never live reconfiguration
    /// (band and C0 are static in OpenBTS).
    public var capabilities: RadioCapabilities { [.byteCounters, .detach, .block, .livePowerControl] }

    /// `.up` while connected; `.down` before the first connection and after `run` returns;
    /// `.degraded` while reconnecting after a loss.
    public var state: LinkState { core.withLock { $0.link } }

    /// The IMSIs refused attachment while blocked (kept across reconnects, not across restarts of the daemon).
    public var blockedSubscribers: [SubscriberID] { core.withLock { $0.blocked.sorted().compactMap { SubscriberID.imsi($0) } } }

    /// Validates `configuration` (nothing is sent if it has a problem: `HALError(.rejected)`
    /// naming the field, e.g. a power above 20 dBm, or the LTE-U band), then sets
    /// `GSM.Radio.Band`, `GSM.Radio.C0`, `GSM.Identity.MCC/MNC/LAC/CI` with `config KEY VALUE`
    /// and the power with `power <attenuation>`. Keys OpenBTS calls static (band, C0) are
    /// returned in `needsRestart` when their value changed. The capacity is this backend's
    /// policy and applies from the next reading. A reply with an OpenBTS error throws
    /// `HALError(.rejected, "<command>: <error>")`; the keys set before it stay set.
    public func apply(_ configuration: CellConfiguration) async throws -> RadioApplyResult {
        var problems = configuration.problems()
        if configuration.band == .lteU {
            problems.append("band: lte-u is not a band OpenBTS serves (850, 900, 1800, 1900)")
        }
        guard problems.isEmpty else { throw HALError(.rejected, device: name, problems.joined(separator: "; ")) }
        let connection = try readyConnection()
        core.withLock { $0.capacity = configuration.capacity }

        let settings = [("GSM.Radio.Band", configuration.band.rawValue), ("GSM.Radio.C0", "\(configuration.channel)"),
                        ("GSM.Identity.MCC", configuration.mcc), ("GSM.Identity.MNC", configuration.mnc),
                        ("GSM.Identity.LAC", "\(configuration.lac)"), ("GSM.Identity.CI", "\(configuration.cellID)")]
        var needsRestart: [String] = []
        for (key, value) in settings {
            let reply = try await command("config \(key) \(value)", on: connection)
            let parsed: OpenBTSConfigReply
            do { parsed = try OpenBTSConfigReply(parsing: reply, key: key) } catch {
                throw violation("\(error)", on: connection)
            }
            if case .changed(let from, let to, let isStatic) = parsed {
                logger.info("\(name): \(key) \(from.map { "\"\($0)\" → " } ?? "")\"\(to)\"\(isStatic ? " (static: takes effect on restart)" : "")")
                if isStatic { needsRestart.append(key) }
            }
        }

        let attenuation = calibration.attenuation(for: configuration.transmitPowerDBm)
        let reply = try await command("power \(attenuation)", on: connection)
        let level: Double
        do { level = try OpenBTSPowerReply.parse(reply) } catch { throw violation("\(error)", on: connection) }
        if configuration.transmitPowerDBm > calibration.maximumOutputDBm {
            logger.notice("\(name): \(configuration.transmitPowerDBm) dBm asked, the board gives at most \(calibration.maximumOutputDBm) dBm")
        }
        logger.info("\(name): transmit power \(configuration.transmitPowerDBm) dBm = attenuation \(attenuation) dB (OpenBTS: \(level) dB wrt full scale)")
        if !needsRestart.isEmpty {
            logger.notice("\(name): \(needsRestart.joined(separator: ", ")) take effect when OpenBTS restarts")
        }
        return RadioApplyResult(needsRestart: needsRestart)
    }

    /// Reads `gprs list` and returns every admitted subscriber with its cumulative counters;
    /// changes since the last reading are reported through `run`'s sink (and the policies
    /// applied) as in a poll.
    public func subscribers() async throws -> [AttachedSubscriber] {
        try await poll(try readyConnection())
    }

    /// `sgsn free imsi X` (ends the GPRS attachment; an OpenBTS error throws
    /// `HALError(.rejected)`), then `tmsis delete -imsi X` (forces a fresh location update;
    /// an error here is only logged: an IMSI that never did one has no record). The
    /// `.subscriberDetached` event follows from the next reading.
    public func detach(_ subscriber: SubscriberID) async throws {
        let imsi = try Self.imsi(of: subscriber, device: name)
        try await detach(imsi: imsi, on: try readyConnection())
    }

    /// Blocking adds the IMSI to the deny list and detaches it if attached; from then on every
    /// reading that finds it attached detaches it again and reports `.attachRefused(reason:
    /// "blocked")` (once per attempt). Unblocking removes it. (`Control.LUR.OpenRegistration`
    /// is left alone: a regex excluding even one 15-digit IMSI does not fit in the 127 bytes
    /// an OpenBTS command may have.)
    public func setBlocked(_ subscriber: SubscriberID, _ blocked: Bool) async throws {
        let imsi = try Self.imsi(of: subscriber, device: name)
        let connection = try readyConnection()
        let changed = core.withLock { c in blocked ? c.blocked.insert(imsi).inserted : c.blocked.remove(imsi) != nil }
        let attached = reporting.withLock { $0.tracker.sessions[imsi] != nil }
        if changed { logger.notice("\(name): \(subscriber) \(blocked ? "blocked" : "unblocked")") }
        if blocked && attached { try await detach(imsi: imsi, on: connection) }
    }

    // MARK: - Helpers

    func readyConnection() throws(HALError) -> OpenBTSConnection {
        let (connection, link) = core.withLock { ($0.connection, $0.link) }
        guard let connection, connection.failure == nil else {
            throw HALError(.unavailable, device: name, link == .degraded ? "lost OpenBTS; reconnecting" : "not connected to OpenBTS")
        }
        return connection
    }

    /// Sends `text` and returns the reply, throwing `HALError(.rejected)` if OpenBTS answered with an error.
    func command(_ text: String, on connection: OpenBTSConnection) async throws -> String {
        let reply = try await connection.request(text).text
        if let (error, detail) = OpenBTSReply.error(in: reply) {
            throw HALError(.rejected, device: name, "\(text): \(error)\(detail.isEmpty ? "" : " (\(detail))")")
        }
        return reply
    }

    /// A reply that does not parse: the connection cannot be trusted any more.
    func violation(_ message: String, on connection: OpenBTSConnection) -> HALError {
        connection.markBroken(message)
        return HALError(.protocolViolation, device: name, message)
    }

    func detach(imsi: String, on connection: OpenBTSConnection) async throws {
        _ = try await command("sgsn free imsi \(imsi)", on: connection)
        do {
            _ = try await command("tmsis delete -imsi \(imsi)", on: connection)
        } catch let error as HALError where error.kind == .rejected {
            logger.debug("\(name): \(error.message)")
        }
        logger.info("\(name): detached imsi:\(imsi)")
    }

    static func imsi(of subscriber: SubscriberID, device: String) throws(HALError) -> String {
        guard subscriber.scheme == .imsi else { throw HALError(.rejected, device: device, "\(subscriber) is not a cellular (imsi:) subscriber") }
        return subscriber.value
    }
}
