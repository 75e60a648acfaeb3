import HAL
import Logging
import Posix
import Synchronization

/// How `GPSDClient` watches gpsd and comes back after losing it.
public struct GPSDTiming: Sendable, Hashable {
    /// Connecting may take this long.
    public var connectTimeout: Duration
    /// After this much silence `?WATCH` goes out again (gpsd with no device says nothing, and
    /// only wakes a device added later for a client that watches again)…
    public var probeInterval: Duration
    /// …and if nothing at all comes back within this, the connection is dropped.
    public var probeTimeout: Duration
    /// A fix with no TPV report for this long is lost.
    public var fixStaleAfter: Duration
    /// The first wait before reconnecting; it doubles after each failed attempt…
    public var initialBackoff: Duration
    /// …up to this.
    public var maximumBackoff: Duration

    public init(connectTimeout: Duration = .seconds(2), probeInterval: Duration = .seconds(5), probeTimeout: Duration = .seconds(3),
                fixStaleAfter: Duration = .seconds(5), initialBackoff: Duration = .milliseconds(250), maximumBackoff: Duration = .seconds(30)) {
        self.connectTimeout = connectTimeout
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
        self.fixStaleAfter = fixStaleAfter
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
    }
}

/// Position fixes from gpsd over its JSON protocol (TCP, `127.0.0.1:2947` by default).
///
/// `run` connects, sends `?WATCH={"enable":true,"json":true};` and follows the TPV reports;
/// after `probeInterval` of silence it sends the WATCH again (gpsd answers DEVICES and WATCH,
/// and opens devices added since: it opens devices only for a WATCH, so a client that
/// connected before gpsd had its device would otherwise wait forever). When gpsd goes away
/// (closed connection, no answer to a probe, a garbled line) it reports
/// `.degraded`, reconnects with back-off, and reports `.restored` once gpsd answers again.
/// No fix is a state with a reason (`status.problem`): no gpsd, no device, TPV mode 0 or 1,
/// or no TPV for `fixStaleAfter`. Nothing here waits without a deadline.
public final class GPSDClient: GPSReceiver {
    public let name: String
    public let host: String
    public let port: UInt16
    let timing: GPSDTiming
    let logger: Logger

    private struct Core {
        var status = GPSStatus(link: .down, problem: "not started")
        var running = false
    }

    private let core = Mutex(Core())

    /// - Parameter host: an IPv4 address (`localhost` is taken as `127.0.0.1`).
    public init(host: String = "127.0.0.1", port: UInt16 = 2947, logger: Logger, timing: GPSDTiming = GPSDTiming()) {
        self.host = host == "localhost" ? "127.0.0.1" : host
        self.port = port
        name = "gpsd \(self.host):\(port)"
        self.timing = timing
        self.logger = logger
    }

    public var status: GPSStatus { core.withLock { $0.status } }

    /// Runs until cancelled (then returns normally); throws `HALError(.rejected)` if already running.
    public func run(events: @escaping BoardEventSink) async throws {
        try core.withLock { c throws(HALError) in
            guard !c.running else { throw HALError(.rejected, device: name, "run is already active") }
            c.running = true
        }
        defer {
            core.withLock { c in
                c.running = false
                c.status.link = .down
                c.status.fix = nil
                c.status.problem = "stopped"
            }
        }
        var backoff = timing.initialBackoff
        var everReady = false
        var lastFailure: String?
        while !Task.isCancelled {
            let socket: TCPSocket
            do {
                socket = try await TCPSocket.connect(host: host, port: port, deadline: .now + timing.connectTimeout)
            } catch is CancellationError {
                break
            } catch {
                let reason = "cannot reach gpsd at \(host):\(port): \(error)"
                lose(reason, everReady: everReady, events: events)
                if reason != lastFailure { logger.warning("\(name): \(reason); retrying") } else { logger.debug("\(name): \(reason)") }
                lastFailure = reason
                guard await pause(&backoff) else { break }
                continue
            }
            var session = Session(client: self, events: events)
            let reason = await session.run(socket)
            socket.close()
            if session.ready {
                everReady = true
                backoff = timing.initialBackoff
            }
            if Task.isCancelled { break }
            lose(reason, everReady: everReady, events: events)
            if reason != lastFailure { logger.warning("\(name): lost gpsd: \(reason); reconnecting") }
            lastFailure = reason
            guard await pause(&backoff) else { break }
        }
    }

    /// Marks gpsd unreachable: no current fix (the last position is kept).
    private func lose(_ reason: String, everReady: Bool, events: BoardEventSink) {
        let (wasUp, hadFix) = core.withLock { c -> (Bool, Bool) in
            let wasUp = c.status.link == .up
            let hadFix = c.status.hasFix
            c.status.link = everReady ? .degraded : .down
            c.status.fix = nil
            c.status.problem = reason
            return (wasUp, hadFix)
        }
        if hadFix { events(.gpsNoFix(reason: reason)) }
        if wasUp { events(.degraded(device: name, reason: reason)) }
    }

    private func pause(_ backoff: inout Duration) async -> Bool {
        do { try await Task.sleep(for: backoff) } catch { return false }
        backoff = min(backoff * 2, timing.maximumBackoff)
        return true
    }

    /// Applies one report to the status and says which events it causes.
    fileprivate func apply(_ report: GPSDReport, events: BoardEventSink) {
        var out: [BoardEvent] = []
        core.withLock { c in
            switch report {
            case .version:
                if c.status.link != .up {
                    if c.status.link == .degraded { out.append(.restored(device: name)) }
                    c.status.link = .up
                    c.status.problem = "connected to gpsd; no TPV report yet"
                }
            case .devices(let paths) where paths.isEmpty:
                c.status.problem = "gpsd has no GPS device"
            case .device(let path, false):
                c.status.problem = "gpsd closed its GPS device \(path)"
            case .tpv(let tpv):
                let fix = tpv.fix(source: name)
                let hadFix = c.status.hasFix
                let previousMode = c.status.fix?.mode
                c.status.fix = fix
                if fix.hasPosition {
                    c.status.lastPosition = fix
                    c.status.problem = nil
                    if !hadFix || previousMode != fix.mode { out.append(.gpsFix(fix)) }
                } else {
                    let reason = tpv.noFixReason ?? "no fix"
                    c.status.problem = reason
                    if hadFix { out.append(.gpsNoFix(reason: reason)) }
                }
            case .error(let message):
                logger.warning("\(name): gpsd says: \(message)")
            default:
                break
            }
        }
        for event in out { events(event) }
    }

    /// Drops a fix that has had no TPV for too long.
    fileprivate func expireFix(silentFor silence: Duration, events: BoardEventSink) {
        let reason = "no TPV report from gpsd for \(silence)"
        let lost = core.withLock { c -> Bool in
            guard c.status.fix != nil else { return false }
            let hadFix = c.status.hasFix
            c.status.fix = nil
            c.status.problem = reason
            return hadFix
        }
        if lost { events(.gpsNoFix(reason: reason)) }
    }
}

/// One connection to gpsd: WATCH, then read reports until it breaks or the task is cancelled.
private struct Session {
    let client: GPSDClient
    let events: BoardEventSink
    private(set) var ready = false

    init(client: GPSDClient, events: @escaping BoardEventSink) {
        self.client = client
        self.events = events
    }

    /// Returns why the connection ended.
    mutating func run(_ socket: TCPSocket) async -> String {
        let timing = client.timing
        var buffer = GPSDLineBuffer()
        var lastHeard = ContinuousClock.now
        var lastTPV: ContinuousClock.Instant?
        var probeSent: ContinuousClock.Instant?
        let watch = Array(#"?WATCH={"enable":true,"json":true};"#.utf8) + [10]
        do {
            try await socket.send(watch, deadline: .now + timing.probeTimeout)
            while true {
                let now = ContinuousClock.now
                var deadline = probeSent.map { $0 + timing.probeTimeout } ?? lastHeard + timing.probeInterval
                if let lastTPV { deadline = min(deadline, lastTPV + timing.fixStaleAfter) }
                let bytes: [UInt8]
                do {
                    bytes = try await socket.receive(deadline: max(deadline, now))
                } catch let error as SystemError where error.errno == .timedOut {
                    let now = ContinuousClock.now
                    if let tpv = lastTPV, now - tpv >= timing.fixStaleAfter {
                        client.expireFix(silentFor: now - tpv, events: events)
                        lastTPV = nil
                    }
                    if let sent = probeSent, now - sent >= timing.probeTimeout {
                        return "gpsd did not answer ?WATCH within \(timing.probeTimeout)"
                    }
                    if probeSent == nil, now - lastHeard >= timing.probeInterval {
                        try await socket.send(watch, deadline: now + timing.probeTimeout)
                        probeSent = now
                    }
                    continue
                }
                if bytes.isEmpty { return "gpsd closed the connection" }
                lastHeard = .now
                probeSent = nil
                let lines: [[UInt8]]
                do { lines = try buffer.append(bytes) } catch { return "gpsd sent \(error)" }
                for line in lines {
                    let report: GPSDReport
                    do { report = try GPSDReport.parse(line) } catch { return "gpsd sent \(error)" }
                    if case .version = report { ready = true }
                    if case .tpv = report { lastTPV = .now }
                    client.apply(report, events: events)
                }
            }
        } catch is CancellationError {
            return "cancelled"
        } catch {
            return "connection to gpsd failed: \(error)"
        }
    }
}
