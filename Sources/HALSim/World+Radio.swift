import HAL

/// One attached UE as OpenBTS would report it (tests compare it with truth).
public struct UESnapshot: Sendable, Equatable {
    public struct Record: Sendable, Equatable {
        public var debugID: Int
        public var tlli: UInt32
        public var oldTLLI: UInt32?
        public var upBytes: UInt64
        public var downBytes: UInt64
    }

    public var imsi: String
    /// The GMM context's state: `GmmRegisteredNormal` while attached, `GmmDeregistered` after.
    public var gmmState: String
    public var ptmsi: UInt32
    public var tlli: UInt32
    /// 192.168.99.x
    public var ip: String
    /// Real seconds since the attach.
    public var ageSeconds: UInt64
    public var records: [Record]
    /// Whether the location update still holds an SDCCH (`chans` lists it).
    public var onChannel: Bool
    public var sdcch: Int
    public var transaction: Int
    /// The session's exact byte counts (the sum over the records).
    public var exactUpBytes: UInt64
    public var exactDownBytes: UInt64
}

extension WorldState {
    /// Attached UEs, in subscriber order.
    func ueSnapshots() -> [UESnapshot] {
        subscribers.compactMap { s in
            guard let imsi = s.imsi, let session = s.session, let link = session.link else { return nil }
            let bytes = link.recordBytes(up: session.upBytes, down: session.downBytes)
            let records = zip(link.records, bytes).map { record, counted in
                UESnapshot.Record(debugID: record.debugID, tlli: record.tlli, oldTLLI: record.oldTLLI,
                                  upBytes: counted.up, downBytes: counted.down)
            }
            return UESnapshot(imsi: imsi, gmmState: GMMState.registered, ptmsi: link.ptmsi, tlli: link.localTLLI, ip: "192.168.99.\(link.ip)",
                              ageSeconds: UInt64(max(0, realTime - session.startReal)), records: records,
                              onChannel: link.channelUntil > realTime, sdcch: link.sdcch, transaction: link.transaction,
                              exactUpBytes: session.upBytes, exactDownBytes: session.downBytes)
        }
    }

    /// Every MS record `gprs list` shows, by `MS#` number, with the GMM context printed under
    /// it: the attached UEs' records, and the records of UEs that left which OpenBTS has not
    /// forgotten yet. OpenBTS keeps one GMM context per IMSI, so a left record is printed
    /// under its IMSI's context as it is now: the new one when that IMSI attached again,
    /// else the one of its last attachment, in state `GmmDeregistered`.
    func listedMSRecords() -> [(ue: UESnapshot?, record: UESnapshot.Record)] {
        let attached = ueSnapshots()
        let contexts = Dictionary(gmmContexts(attached: attached).map { ($0.imsi, $0) }, uniquingKeysWith: { first, _ in first })
        var listed: [(ue: UESnapshot?, record: UESnapshot.Record)] = attached.flatMap { ue in ue.records.map { (ue: ue, record: $0) } }
        for idle in listedIdleRecords {
            listed.append((ue: idle.freed ? nil : contexts[idle.ue.imsi], record: idle.record))
        }
        return listed.sorted { $0.record.debugID < $1.record.debugID }
    }

    /// The SGSN's GMM contexts (`sgsn list`): every attached UE, then each UE that left and
    /// still has a record listed, as it was when it last left (in state `GmmDeregistered`,
    /// its age still counting).
    func gmmContexts() -> [UESnapshot] { gmmContexts(attached: ueSnapshots()) }

    private func gmmContexts(attached: [UESnapshot]) -> [UESnapshot] {
        var seen = Set(attached.map(\.imsi))
        var left: [UESnapshot] = []
        for idle in listedIdleRecords.reversed() where !idle.freed && seen.insert(idle.ue.imsi).inserted {
            var ue = idle.ue
            ue.ageSeconds += UInt64(max(0, realTime - idle.since))
            left.append(ue)
        }
        return attached + left.reversed()
    }

    /// Records of UEs that left, not yet forgotten by OpenBTS.
    private var listedIdleRecords: [IdleMSRecord] {
        radio.idleRecords.filter { realTime - $0.since < radio.msIdleSeconds }
    }

    func boardSnapshot() -> BoardSnapshot {
        BoardSnapshot(zones: board.thermal.readings(at: realTime), frontendPresent: board.frontendPresent, gpsFix: board.gpsFix,
                      position: configuration.position, watchdog: board.watchdog, realTime: realTime)
    }
}

extension World {
    /// Runs one OpenBTS CLI command (the text of one frame) atomically and returns the reply
    /// text (possibly empty). `wallSeconds` is the wall clock (for `uptime`).
    public func openBTS(_ command: String, wallSeconds: Int64) -> String {
        perform { OpenBTSCLI.execute(command, in: &$0, wallSeconds: wallSeconds) }
    }

    /// Attached UEs with their MS records.
    public func ues() -> [UESnapshot] { perform { $0.ueSnapshots() } }

    /// IMSIs of every UE in the population, attached or not.
    public func imsis() -> [String] { perform { $0.subscribers.compactMap(\.imsi) } }

    /// A value of the emulated OpenBTS configuration database.
    public func openBTSConfig(_ key: String) -> String { perform { $0.radio.config[key] } }

    /// What the board's files and gpsd show now.
    public func board() -> BoardSnapshot { perform { $0.boardSnapshot() } }

    /// The watchdog file as `stat` and `read` found it now (nil: it is gone).
    public func observeWatchdog(_ stamp: FileStamp?, content: [UInt8]) {
        perform { s in s.notices += s.board.watchdog.observe(stamp, content: content, at: s.realTime) }
    }

    /// OpenBTS goes away now and comes back after `seconds` of real time.
    public func injectRadioRestart(downFor seconds: Double) throws(WorldError) {
        try attempt { s throws(WorldError) in try s.restartRadio(downFor: seconds) }
    }

    /// Applies an injected fault that is not about Wi-Fi counters; returns what happened.
    public func inject(_ action: FaultAction) throws(WorldError) -> String {
        try attempt { s throws(WorldError) in
            switch action {
            case .radioRestart(let seconds):
                try s.restartRadio(downFor: seconds)
                return "radio terminated; back in \(formatNumber(seconds))s\n"
            case .thermalSpike(let seconds):
                s.spikeThermal(seconds: seconds)
                return "thermal spike for \(formatNumber(seconds))s\n"
            case .frontend(let present):
                guard s.setFrontend(present: present) else { throw WorldError("the front end is already \(present ? "plugged in" : "unplugged")") }
                return present ? "front end plugged in\n" : "front end unplugged; radio down\n"
            case .gps(let fix):
                guard s.setGPSFix(fix) else { throw WorldError("the GPS \(fix ? "already has a fix" : "has already lost its fix")") }
                return fix ? "gps fix\n" : "gps fix lost\n"
            case .hostapdRestart(let seconds):
                try s.restartHostapd(downFor: seconds)
                return "hostapd terminated; back in \(formatNumber(seconds))s\n"
            case .counterReset(let target):
                let count = try s.resetCounters(target)
                return "counter-reset: \(count) station\(count == 1 ? "" : "s")\n"
            case .wrap32(let target, let seconds):
                let count = try s.startWrapBursts(target, realSeconds: seconds)
                return "wrap32: \(count) station\(count == 1 ? "" : "s"), burst over \(formatNumber(seconds))s\n"
            }
        }
    }
}
