import HAL
import Logging
import Posix
import Synchronization

extension OpenBTSRadio {
    /// Connects, identifies OpenBTS (`version`, `uptime`), then reads `gprs list` every
    /// `pollInterval`; reconnects with back-off whenever the connection breaks (OpenBTS
    /// closing it, a command timing out, a garbled reply). Returns only when cancelled.
    ///
    /// Events: the attach state as readings change it (on the first reading, everyone
    /// attached is announced with `.subscriberAttached`); on a loss `.degraded`; on
    /// reconnecting, if OpenBTS restarted, `.subscriberDetached` (with the last counters read)
    /// for everyone it had and `.countersReset`, then `.restored`, then the first reading's
    /// changes. OpenBTS restarted when a connection attempt was refused during the outage,
    /// when its `version` changed, or when its `uptime` began after the old process was last
    /// heard from; without a usable `uptime` a restart is assumed. The sink is called in order,
    /// one event at a time, and must not block (it may read `state`).
    public func run(events: @escaping HALEventSink) async throws {
        try core.withLock { c throws(HALError) in
            guard !c.running else { throw HALError(.rejected, device: name, "run is already active") }
            c.running = true
        }
        reporting.withLock { $0.sink = events }
        defer {
            reporting.withLock { $0.sink = nil }
            core.withLock { c in c.link = .down; c.connection = nil; c.running = false }
        }
        var backoff = timing.initialBackoff
        var previous: Previous?
        var refusedSinceLoss = false
        var lastFailure: String?  // logged once at warning, repeats at debug

        while !Task.isCancelled {
            let socket: TCPSocket
            do {
                socket = try await TCPSocket.connect(host: host, port: port, deadline: .now + commandTimeout)
            } catch is CancellationError {
                break
            } catch {
                if let error = error as? SystemError, error.errno == .connectionRefused { refusedSinceLoss = true }
                let message = "cannot connect: \(error)"
                if message != lastFailure { logger.warning("\(name): \(message); retrying") } else { logger.debug("\(name): \(message)") }
                lastFailure = message
                guard await pause(&backoff) else { break }
                continue
            }
            let connection = OpenBTSConnection(socket: socket, device: name, commandTimeout: commandTimeout, sequence: sequence)
            let ended = await session(connection, previous: previous, refusedSinceLoss: refusedSinceLoss)
            connection.markBroken("the connection ended")
            if let version = ended.version {
                previous = Previous(version: version, lastHeard: connection.lastHeard)
                refusedSinceLoss = false
            }
            if Task.isCancelled { break }
            reporting.withLock { r in
                let wasLive = core.withLock { c in
                    guard c.connection === connection else { return false }
                    c.connection = nil
                    c.link = .degraded
                    return true
                }
                if wasLive { r.sink?(.degraded(device: name, reason: ended.reason)) }
            }
            if ended.version != nil {
                logger.warning("\(name): lost OpenBTS: \(ended.reason); reconnecting")
                backoff = timing.initialBackoff
                lastFailure = nil
            } else {
                let message = "connected but could not set up: \(ended.reason)"
                if message != lastFailure { logger.warning("\(name): \(message)") } else { logger.debug("\(name): \(message)") }
                lastFailure = message
            }
            guard await pause(&backoff) else { break }
        }
    }

    /// What is known of the OpenBTS process of the last session that got ready.
    struct Previous {
        let version: OpenBTSVersion
        let lastHeard: ContinuousClock.Instant
    }

    /// Whether the OpenBTS now answering is not the one last heard from `silence` ago.
    static func restarted(silence: Duration, uptime: OpenBTSUptime?, versionChanged: Bool, refusedSinceLoss: Bool) -> Bool {
        if refusedSinceLoss || versionChanged { return true }
        guard let uptime else { return true }
        let (seconds, attoseconds) = silence.components
        let silent = Double(seconds) + Double(attoseconds) / 1e18
        // The process started after the old one was last heard from: a new one.
        return uptime.seconds + uptime.uncertainty < silent
    }

    /// Sleeps `backoff` and doubles it (up to the maximum); false when cancelled.
    private func pause(_ backoff: inout Duration) async -> Bool {
        do { try await Task.sleep(for: backoff) } catch { return false }
        backoff = min(backoff * 2, timing.maximumBackoff)
        return true
    }

    /// Runs one connection until it breaks or the task is cancelled; returns OpenBTS's version
    /// if the session got ready, and why it ended.
    private func session(_ connection: OpenBTSConnection, previous: Previous?, refusedSinceLoss: Bool) async -> (version: OpenBTSVersion?, reason: String) {
        var ready: OpenBTSVersion?
        do {
            let version: OpenBTSVersion
            do { version = try OpenBTSVersion(parsing: try await connection.request("version").text) } catch let error as OpenBTSProtocolError {
                throw violation("\(error)", on: connection)
            }
            let uptime = OpenBTSUptime(parsing: try await connection.request("uptime").text)
            let restarted = previous.map {
                Self.restarted(silence: .now - $0.lastHeard, uptime: uptime, versionChanged: $0.version != version, refusedSinceLoss: refusedSinceLoss)
            }
            let process = uptime.map { OpenBTSTrackerFile.Process(release: version.release, uptime: $0) }
            let resumed: Int? = reporting.withLock { r in
                core.withLock { c in
                    c.connection = connection
                    c.link = .up
                }
                r.process = process
                guard let restarted else { return resume(&r) }
                var events: [HALEvent] = []
                if restarted {
                    events += r.tracker.endAll()
                    events.append(.countersReset(device: name))
                }
                events.append(.restored(device: name))
                for event in events { r.sink?(event) }
                return nil
            }
            if let resumed, let stateFile { logger.notice("\(name): same OpenBTS process as before; \(resumed) session(s) counted on from \(stateFile)") }
            ready = version
            let uptimeText = uptime.map { ", up \(Int($0.seconds)) s" } ?? ""
            let what = restarted == nil ? "connected" : restarted == true ? "restored (OpenBTS restarted)" : "restored"
            logger.notice("\(name): \(what); release \(version.release)\(uptimeText)")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await connection.waitUntilBroken() }
                group.addTask { try await self.pollLoop(connection) }
                _ = try await group.next()
                group.cancelAll()
            }
        } catch {
            if connection.failure == nil { connection.markBroken("\(error)") }
        }
        return (ready, connection.failure ?? "the connection ended")
    }

    /// On the first connection: the attach state saved by a daemon before this one, if it is
    /// about this very OpenBTS process. Returns how many sessions it had, nil if none was taken.
    private func resume(_ r: inout Reporting) -> Int? {
        guard let stateFile, let process = r.process, let saved = OpenBTSTrackerFile.load(stateFile),
              saved.process.isSame(as: process), saved.tracker.width == counterWidth else { return nil }
        r.tracker = saved.tracker
        return saved.tracker.sessions.count
    }

    /// Keeps the attach state after a reading, before its events go out.
    private func save(_ r: inout Reporting) {
        guard let stateFile, let process = r.process else { return }
        do {
            try OpenBTSTrackerFile(process: process, tracker: r.tracker).save(to: stateFile)
            r.saveProblem = nil
        } catch {
            if r.saveProblem != "\(error)" { logger.warning("\(name): cannot keep the attach state: \(error)") }
            r.saveProblem = "\(error)"
        }
    }

    /// Reads the attach state every `pollInterval` until cancelled.
    private func pollLoop(_ connection: OpenBTSConnection) async throws {
        var lastProblem: String?
        while true {
            do {
                _ = try await poll(connection)
                lastProblem = nil
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // A broken connection ends the session through `waitUntilBroken`; anything
                // else (an OpenBTS error for `gprs list`, a queue timeout) is worth a warning.
                let message = "\(error)"
                if connection.failure == nil && message != lastProblem { logger.warning("\(name): reading subscribers: \(message)") }
                lastProblem = message
            }
            try await Task.sleep(for: timing.pollInterval)
        }
    }

    /// One reading: `gprs list`, parsed, applied to the tracker (unless a newer reading was
    /// applied meanwhile), its events reported, then the detaches the policies asked for.
    func poll(_ connection: OpenBTSConnection) async throws -> [AttachedSubscriber] {
        let (reply, number) = try await connection.request("gprs list")
        if let (error, detail) = OpenBTSReply.error(in: reply) {
            throw HALError(.rejected, device: name, "gprs list: \(error)\(detail.isEmpty ? "" : " (\(detail))")")
        }
        let records: [OpenBTSMSRecord]
        do { records = try OpenBTSGPRSList.parse(reply) } catch { throw violation("\(error)", on: connection) }
        let outcome: OpenBTSAttachTracker.Outcome? = reporting.withLock { r in
            let (current, capacity, blocked) = core.withLock { ($0.connection === connection, $0.capacity, $0.blocked) }
            guard current, number > r.lastReading else { return nil }
            r.lastReading = number
            let outcome = r.tracker.observe(records, capacity: capacity, blocked: blocked)
            save(&r)
            for event in outcome.events { r.sink?(event) }
            return outcome
        }
        guard let outcome else { return reporting.withLock { $0.tracker.subscribers } }
        for event in outcome.events {
            switch event {
            case .subscriberAttached(let id): logger.info("\(name): \(id) attached")
            case .subscriberDetached(let id, _): logger.info("\(name): \(id) detached")
            case .attachRefused(let id, let reason): logger.notice("\(name): refused \(id): \(reason); detaching it")
            default: break
            }
        }
        for imsi in outcome.free {
            do {
                _ = try await command("sgsn free imsi \(imsi)", on: connection)
            } catch let error as HALError where error.kind == .rejected {
                logger.warning("\(name): could not free the GMM context of imsi:\(imsi): \(error.message)")
            }
        }
        for imsi in outcome.detach {
            do {
                try await detach(imsi: imsi, on: connection)
            } catch let error as HALError where error.kind == .rejected {
                logger.warning("\(name): could not detach imsi:\(imsi): \(error.message)")
            }
        }
        return outcome.subscribers
    }
}
