/// The emulated OpenBTS's side of the world (its lifecycle, attachments, detaches, MS
/// records) and the board's (thermal, watchdog, front end, GPS).
extension WorldState {
    /// How long a UE's location update holds an SDCCH (real seconds): `chans` lists it meanwhile.
    static let locationUpdateSeconds = 4.0
    /// Share of UE sessions that switch to a second MS record (a new TLLI) after a while.
    static let secondRecordShare = 0.4

    var radioAvailable: Bool { radio.phase == .running && board.frontendPresent }

    // MARK: - Attach and detach

    /// UE `i` tries a location update: admitted by open registration it attaches (a GMM
    /// context, one MS record, an IP); rejected it retries after the reconnect delay.
    mutating func attach(_ i: Int) {
        guard let imsi = subscribers[i].imsi else { return }
        let admitted = radio.config.admits(imsi: imsi)
        radio.locationUpdate(imsi, admitted: admitted, at: realTime)
        guard admitted else {
            radio.rejections += 1
            subscribers[i].notBefore = simTime + configuration.scenario.reconnectDelay * subscribers[i].random.uniform(0.75, 1.25)
            return
        }
        var random = subscribers[i].random
        let multiplier = random.uniform(0.4, 1.6)
        let ptmsi = 0x0100_0000 | UInt32(truncatingIfNeeded: i << 8) | UInt32(truncatingIfNeeded: random.next() & 0xFF)
        let randomTLLI = 0x7800_0000 | UInt32(truncatingIfNeeded: random.next() & 0x07FF_FFFF)
        let twoRecords = random.unit() < Self.secondRecordShare
        let switchAt = simTime + random.uniform(5, 60)
        subscribers[i].random = random
        let usedIPs = Set(subscribers.compactMap { $0.session?.link?.ip })
        let usedChannels = Set(subscribers.compactMap { s in s.session?.link.flatMap { $0.channelUntil > realTime ? $0.sdcch : nil } })
        var link = UELink(ptmsi: ptmsi, ip: (1...).first { !usedIPs.contains($0) }!, records: [],
                          switchAt: twoRecords ? switchAt : nil, channelUntil: realTime + Self.locationUpdateSeconds,
                          sdcch: (0...).first { !usedChannels.contains($0) }!, transaction: radio.nextTransaction)
        radio.nextTransaction += 1
        // A single record shows the switch from the random TLLI to the local one; a UE that
        // will switch records starts on its random TLLI alone.
        link.records = [MSRecord(debugID: radio.nextMSID, tlli: twoRecords ? randomTLLI : link.localTLLI,
                                 oldTLLI: twoRecords ? nil : randomTLLI)]
        radio.nextMSID += 1
        subscribers[i].session = Session(startSim: simTime, startReal: realTime, startCumulative: tide.cumulative(absolute(simTime)),
                                         multiplier: multiplier, aid: 0, key: nil, keyID: nil, link: link)
        subscribers[i].everConnected = true
    }

    /// UE `i` gets a second MS record now: the first stops counting, the second counts on.
    mutating func switchMSRecord(_ i: Int) {
        guard var session = subscribers[i].session, var link = session.link, let first = link.records.first else { return }
        link.switchAt = nil
        link.records[0].frozenUp = session.upBytes
        link.records[0].frozenDown = session.downBytes
        link.records.append(MSRecord(debugID: radio.nextMSID, tlli: link.localTLLI, oldTLLI: first.tlli))
        radio.nextMSID += 1
        session.link = link
        subscribers[i].session = session
    }

    /// UE `i` leaves (its schedule, a detach, a radio restart); while OpenBTS runs, its MS
    /// records stay listed, bytes final, until they have been idle for `GPRS.Timers.MS.Idle`.
    mutating func detach(_ i: Int, why: SessionEnd) {
        guard let session = subscribers[i].session, subscribers[i].isLTE else { return }
        if radio.phase == .running, let ue = ueSnapshots().first(where: { $0.imsi == subscribers[i].imsi }) {
            radio.keepIdle(ue, at: realTime)
        }
        remember(i, session, why)
        subscribers[i].session = nil
    }

    /// The network throws UE `imsi` off (`sgsn free imsi`, `tmsis delete -imsi`): its GMM
    /// context is deleted, its records stay listed without one; it tries again after the
    /// scenario's reconnect delay. False when it is not attached.
    mutating func detachUE(imsi: String) -> Bool {
        guard let i = subscribers.firstIndex(where: { $0.imsi == imsi }), subscribers[i].session != nil else { return false }
        detach(i, why: .kicked)
        radio.freeContext(imsi)
        subscribers[i].notBefore = simTime + configuration.scenario.reconnectDelay * subscribers[i].random.uniform(0.75, 1.25)
        return true
    }

    // MARK: - Radio lifecycle

    /// OpenBTS terminates: every UE is dropped, its CLI closes; it comes back after `seconds`.
    mutating func restartRadio(downFor seconds: Double) throws(WorldError) {
        guard radio.phase == .running else { throw WorldError("the radio is already down") }
        stopRadio(until: realTime + seconds)
        notices.append(WorldNotice(level: .notice, message: "radio: OpenBTS terminated; back in \(formatNumber(seconds))s"))
    }

    mutating func stopRadio(until: Double) {
        radio.phase = .down(until: until)
        for i in subscribers.indices where subscribers[i].isLTE { detach(i, why: .sourceStopped) }
        radio.idleRecords = []
        radio.restarts += 1
        radioEvents.append(.stopped)
    }

    /// OpenBTS is back (same port, static keys applied, MS numbering from 1); UEs that want to
    /// be online find it within 1–6 simulated seconds.
    mutating func startRadio() {
        radio.phase = .running
        radio.config.applyOnStart()
        radio.startedAt = realTime
        radio.nextMSID = 1
        radioEvents.append(.started)
        notices.append(WorldNotice(level: .notice, message: "radio: OpenBTS running"))
        for i in subscribers.indices where subscribers[i].wantsOnline && subscribers[i].isLTE {
            subscribers[i].notBefore = max(subscribers[i].notBefore, simTime + subscribers[i].random.uniform(1, 6))
        }
    }

    // MARK: - Board

    /// Real-time upkeep of the board: thermal zones follow the bytes moved, the watchdog's
    /// deadline is checked, the radio follows the front end.
    mutating func updateBoard(dt: Double) {
        board.thermal.update(dt: dt, allRate: Double(movedBytes) / dt, lteRate: Double(movedLTEBytes) / dt,
                             radioUp: radioAvailable, attenuation: radio.config.attenuation)
        movedBytes = 0
        movedLTEBytes = 0
        if let until = board.thermal.spikeUntil, realTime >= until { board.thermal.spikeUntil = nil }
        notices += board.thermal.tripNotices(at: realTime)
        notices += board.watchdog.check(at: realTime)
    }

    /// Both zones run 30 °C hotter (at least 90 °C) for `seconds` of real time.
    mutating func spikeThermal(seconds: Double) {
        board.thermal.spikeUntil = realTime + seconds
        notices += board.thermal.tripNotices(at: realTime)
    }

    /// Unplugging the front end takes the radio down until it is plugged in again (OpenBTS
    /// then starts within 3 real seconds). False when nothing changes.
    mutating func setFrontend(present: Bool) -> Bool {
        guard board.frontendPresent != present else { return false }
        board.frontendPresent = present
        if present {
            if case .down(let until) = radio.phase { radio.phase = .down(until: max(until, realTime + 3)) }
        } else if radio.phase == .running {
            stopRadio(until: realTime)
        }
        notices.append(WorldNotice(level: .notice, message: "front end \(present ? "plugged in" : "unplugged")"))
        return true
    }

    mutating func setGPSFix(_ fix: Bool) -> Bool {
        guard board.gpsFix != fix else { return false }
        board.gpsFix = fix
        notices.append(WorldNotice(level: .notice, message: "gps: \(fix ? "fix regained" : "fix lost")"))
        return true
    }
}
