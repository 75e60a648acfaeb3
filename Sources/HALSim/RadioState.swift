/// What the emulated OpenBTS must tell its endpoint server.
public enum RadioEvent: Sendable, Equatable {
    /// OpenBTS terminated: its CLI listener and every connection must close.
    case stopped
    /// OpenBTS is back: the CLI listens again on the same port.
    case started
}

/// One GPRS MS record of OpenBTS's `gprs list` (an `MSInfo`): a TLLI the UE used, and the
/// bytes counted under it.
struct MSRecord: Sendable, Equatable {
    /// `MS#N`: a process-wide counter in OpenBTS (restarts at 1 with the radio).
    let debugID: Int
    let tlli: UInt32
    /// The TLLI the MS used before (printed after the current one), if any.
    let oldTLLI: UInt32?
    /// Bytes counted by this record when a newer record took over; nil while it is the newest.
    var frozenUp: UInt64?
    var frozenDown: UInt64?
}

/// What OpenBTS keeps about one attached UE: its GMM context and MS records.
struct UELink: Sendable, Equatable {
    let ptmsi: UInt32
    /// The host part of its IP address: 192.168.99.`ip`.
    let ip: Int
    /// One record, or two once the UE switched TLLI (the first one then stops counting);
    /// their byte counts always sum to the session's bytes.
    var records: [MSRecord]
    /// Simulated time at which this UE switches to a second MS record (nil: it never does).
    var switchAt: Double?
    /// The SDCCH the location update holds until this real time, and its chans row data.
    var channelUntil: Double
    let sdcch: Int
    let transaction: Int

    var localTLLI: UInt32 { 0xC000_0000 | (ptmsi & 0x3FFF_FFFF) }

    /// Bytes each record counts, in listing order, for the session's totals.
    func recordBytes(up: UInt64, down: UInt64) -> [(up: UInt64, down: UInt64)] {
        var usedUp: UInt64 = 0, usedDown: UInt64 = 0
        return records.map { record in
            let u = record.frozenUp ?? (up - usedUp)
            let d = record.frozenDown ?? (down - usedDown)
            usedUp += u
            usedDown += d
            return (u, d)
        }
    }
}

/// The names OpenBTS's SGSN gives the GMM states `gprs list` and `sgsn list` print.
enum GMMState {
    static let registered = "GmmRegisteredNormal"
    static let deregistered = "GmmDeregistered"
}

/// An MS record of a UE that left: OpenBTS forgets an MSInfo only once it has been idle for
/// `GPRS.Timers.MS.Idle` seconds, so `gprs list` still shows it meanwhile, its bytes final.
struct IdleMSRecord: Sendable, Equatable {
    /// The UE as it was when it left, its GMM context now `GmmDeregistered`.
    let ue: UESnapshot
    let record: UESnapshot.Record
    /// Real time the UE left.
    let since: Double
    /// The SGSN freed the GMM context (`sgsn free`): the record is listed without one.
    var freed = false
}

/// A row of OpenBTS's TMSI table: an IMSI that did a location update.
struct TMSIEntry: Sendable, Equatable {
    let imsi: String
    /// Nil when none was assigned (a rejected location update).
    var tmsi: UInt32?
    /// 2 = admitted by open registration, 0 = rejected (OpenBTS's Authorization enum).
    var auth: Int
    /// Real times (the world's clock).
    let created: Double
    var accessed: Double
}

/// The emulated OpenBTS: its lifecycle, configuration database, TMSI table and counters.
struct RadioState: Sendable {
    enum Phase: Sendable, Equatable {
        case running
        /// Terminated; comes back when the world's real clock reaches `until` (if the front
        /// end is plugged in).
        case down(until: Double)
    }

    var phase: Phase = .running
    var config = OpenBTSConfig()
    /// Newest access last.
    var tmsis: [TMSIEntry] = []
    /// Real time OpenBTS (re)started.
    var startedAt: Double = 0
    var nextMSID = 1
    /// MS records of UEs that left and are not forgotten yet (oldest first).
    var idleRecords: [IdleMSRecord] = []
    var nextTMSI: UInt32 = 0x4000_0001
    var nextTransaction = 100
    /// Location updates rejected since the start (blocked IMSIs).
    var rejections = 0
    var restarts = 0

    /// Records a location update of `imsi` at real time `now`; returns the TMSI (nil when rejected).
    @discardableResult
    mutating func locationUpdate(_ imsi: String, admitted: Bool, at now: Double) -> UInt32? {
        var entry = tmsis.firstIndex { $0.imsi == imsi }.map { tmsis.remove(at: $0) }
            ?? TMSIEntry(imsi: imsi, tmsi: nil, auth: 0, created: now, accessed: now)
        entry.accessed = now
        entry.auth = admitted ? 2 : 0
        if admitted && entry.tmsi == nil {
            entry.tmsi = nextTMSI
            nextTMSI &+= 1
        }
        tmsis.append(entry)
        return admitted ? entry.tmsi : nil
    }

    /// `GPRS.Timers.MS.Idle`: real seconds an idle MS record stays listed.
    var msIdleSeconds: Double { Double(config[OpenBTSConfig.msIdle]) ?? 600 }

    /// Keeps the records of a UE that left listed until OpenBTS would forget them.
    mutating func keepIdle(_ ue: UESnapshot, at now: Double) {
        let forgetAfter = msIdleSeconds
        idleRecords.removeAll { now - $0.since >= forgetAfter }
        var left = ue
        left.gmmState = GMMState.deregistered
        idleRecords += ue.records.map { IdleMSRecord(ue: left, record: $0, since: now) }
    }

    /// `sgsn free imsi X` (cliGmmDelete): the records of `imsi` stay listed, without a context.
    mutating func freeContext(_ imsi: String) {
        for i in idleRecords.indices where idleRecords[i].ue.imsi == imsi { idleRecords[i].freed = true }
    }

    /// `tmsis delete -imsi X`; true (OpenBTS reports success even when there was no row).
    mutating func deleteTMSI(_ imsi: String) {
        tmsis.removeAll { $0.imsi == imsi }
    }
}
