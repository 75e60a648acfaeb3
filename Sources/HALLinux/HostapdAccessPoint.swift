import HAL
import Logging
import Posix
import Synchronization

/// How `HostapdAccessPoint` watches hostapd and comes back after losing it.
public struct HostapdTiming: Sendable, Hashable {
    /// A `PING` goes out whenever hostapd has been silent this long (a killed hostapd says nothing).
    public var keepaliveInterval: Duration
    /// The first wait before reconnecting; it doubles after each failed attempt…
    public var initialBackoff: Duration
    /// …up to this.
    public var maximumBackoff: Duration

    public init(keepaliveInterval: Duration = .seconds(3), initialBackoff: Duration = .milliseconds(200),
                maximumBackoff: Duration = .seconds(5)) {
        self.keepaliveInterval = keepaliveInterval
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
    }
}

/// The Wi-Fi access point as hostapd 2.10 runs it, driven through its control socket
/// (`ctrlInterface/interface`, a Unix datagram socket).
///
/// One ATTACHed socket carries replies and events; commands go one at a time, each bounded
/// by `commandTimeout`. `run` keeps the socket: when hostapd goes away it reports
/// `.degraded`, reconnects with back-off, and on return reports `.countersReset` (if hostapd
/// was restarted: its counters start at zero again) and `.restored`.
///
/// Capabilities follow what hostapd actually reports: `.deauthenticate` always,
/// `.perStationPSK` when a `wpa_psk_file` is configured, and `.byteCounters` /
/// `.signalStrength` from the first STA reply that carries `rx_bytes`+`tx_bytes` / `signal`
/// (the driver decides; `driver=wired` reports neither). hostapd never reports counters
/// with a disconnect, so `.finalCountersOnDisconnect` is never set.
public final class HostapdAccessPoint: AccessPoint {
    /// `hostapd <socket path>`, used in messages and events.
    public let name: String
    /// The control socket, `ctrlInterface/interface`.
    public let socketPath: String
    let pskFile: String?
    let counterWidth: CounterWidth
    let commandTimeout: Duration
    let timing: HostapdTiming
    let clientDirectory: String?
    let logger: Logger

    struct Core {
        var link = LinkState.down
        /// Set while connected, ATTACHed and in step with hostapd.
        var connection: HostapdConnection?
        var running = false
        var capabilities: AccessPointCapabilities
    }

    let core: Mutex<Core>
    /// Serializes read-modify-write of the PSK file.
    private let pskFileLock = Mutex(())

    /// - Parameters:
    ///   - ctrlInterface: hostapd's `ctrl_interface` directory.
    ///   - interface: the interface (`interface=` / `bss=`) whose socket to use.
    ///   - pskFile: hostapd's `wpa_psk_file`, edited by `setStationPSK`; nil if not used.
    ///   - counterWidth: how wide the driver's byte counters are (32-bit ones wrap).
    ///   - commandTimeout: the longest any one command may take, queueing included.
    ///   - clientDirectory: where to bind the client's reply socket (default `/tmp`); set it
    ///     when the daemon's `/tmp` is not hostapd's (systemd `PrivateTmp=`).
    public init(ctrlInterface: String, interface: String, pskFile: String?, counterWidth: CounterWidth,
                commandTimeout: Duration, logger: Logger, timing: HostapdTiming = HostapdTiming(),
                clientDirectory: String? = nil) {
        socketPath = ctrlInterface.hasSuffix("/") ? ctrlInterface + interface : ctrlInterface + "/" + interface
        name = "hostapd \(socketPath)"
        self.pskFile = pskFile
        self.counterWidth = counterWidth
        self.commandTimeout = commandTimeout
        self.timing = timing
        self.clientDirectory = clientDirectory
        self.logger = logger
        core = Mutex(Core(capabilities: pskFile == nil ? [.deauthenticate] : [.deauthenticate, .perStationPSK]))
    }

    public var capabilities: AccessPointCapabilities { core.withLock { $0.capabilities } }

    /// `.up` while connected and hostapd's interface is ENABLED; `.down` before the first
    /// connection, while DISABLED, and after `run` returns; `.degraded` while reconnecting.
    public var state: LinkState { core.withLock { $0.link } }

    /// `ENABLE`; succeeds too when the interface already is enabled.
    public func start() async throws { try await setEnabled(true) }

    /// `DISABLE`; succeeds too when the interface already is disabled.
    public func stop() async throws { try await setEnabled(false) }

    /// Walks `STA-FIRST` / `STA-NEXT` (hostapd has no `ALL_STA` command) and returns every
    /// associated station; leftovers hostapd is removing (neither `[ASSOC]` nor `[AUTHORIZED]`)
    /// are left out.
    public func stations() async throws -> [StationInfo] {
        try await walkStations(try readyConnection()).filter(\.isAssociated).map(\.info)
    }

    /// `DEAUTHENTICATE <mac>`. hostapd answers OK for a station it does not know, too.
    public func deauthenticate(_ station: MACAddress) async throws {
        let reply = try await readyConnection().request("DEAUTHENTICATE \(station)")
        try expectOK(reply, from: "DEAUTHENTICATE")
    }

    /// Writes `station`'s line in the `wpa_psk_file` (`keyid=ID MAC PASSPHRASE`; other lines
    /// and comments are kept) durably, then sends `RELOAD_WPA_PSK`, which makes hostapd
    /// disconnect every station whose key no longer matches. Revoking (`passphrase == nil`)
    /// removes the station's lines and also deauthenticates it.
    ///
    /// Throws `HALError(.rejected)` for a passphrase hostapd would refuse (it must be 8..63
    /// printable ASCII characters or 64 hex digits) or a bad key id (1..31 printable, no
    /// spaces), `HALError(.unsupported)` without a `pskFile`, `HALError(.unavailable)` at once
    /// while hostapd is away (the file is then left alone), and `SystemError` if the file
    /// cannot be written. The write is a short synchronous fsync of a small file.
    public func setStationPSK(_ station: MACAddress, passphrase: String?, keyID: String?) async throws {
        guard let pskFile else { throw HALError(.unsupported, device: name, "no wpa_psk_file is configured") }
        do {
            if let passphrase { try WPAPSKFile.validate(passphrase: passphrase) }
            if let keyID { try WPAPSKFile.validate(keyID: keyID) }
        } catch {
            throw HALError(.rejected, device: name, "key for \(station): \(error)")
        }
        let connection = try readyConnection()
        try pskFileLock.withLock { _ throws in
            let existing: [UInt8]
            do { existing = try FileSystem.readFile(pskFile) } catch let error as SystemError where error.errno == .noEntry { existing = [] }
            var file = WPAPSKFile(parsing: String(decoding: existing, as: UTF8.self))
            do { try file.setKey(for: station, passphrase: passphrase, keyID: keyID) } catch {
                throw HALError(.rejected, device: name, "key for \(station): \(error)")
            }
            let bytes = Array(file.render().utf8)
            if bytes != existing || existing.isEmpty {
                try FileSystem.writeDurably(pskFile, bytes, mode: existingPermissions(of: pskFile) ?? 0o600)
            }
        }
        let reply = try await connection.request("RELOAD_WPA_PSK")
        guard HostapdReply.isOK(reply) else {
            throw HALError(.rejected, device: name, "RELOAD_WPA_PSK answered \(HostapdReply.quoted(reply)) (\(pskFile) is written; hostapd reads it when it restarts)")
        }
        logger.info("\(name): \(passphrase == nil ? "revoked the key of" : "set a key for") \(station)")
        if passphrase == nil {
            try expectOK(try await connection.request("DEAUTHENTICATE \(station)"), from: "DEAUTHENTICATE")
        }
    }

    // MARK: - Helpers

    func readyConnection() throws(HALError) -> HostapdConnection {
        let (connection, link) = core.withLock { ($0.connection, $0.link) }
        guard let connection, connection.failure == nil else {
            throw HALError(.unavailable, device: name, link == .degraded ? "lost hostapd; reconnecting" : "not connected to hostapd")
        }
        return connection
    }

    private func setEnabled(_ enable: Bool) async throws {
        let connection = try readyConnection()
        let command = enable ? "ENABLE" : "DISABLE"
        let reply = try await connection.request(command)
        if HostapdReply.isOK(reply) { return }
        if HostapdReply.isUnknownCommand(reply) { throw HALError(.unsupported, device: name, "hostapd does not know \(command)") }
        // hostapd answers FAIL when the interface already is in that state.
        let status = HostapdReply.fields(try await connection.request("STATUS"))["state"] ?? "?"
        if status == (enable ? "ENABLED" : "DISABLED") { return }
        throw HALError(.rejected, device: name, "\(command) answered \(HostapdReply.quoted(reply)); hostapd state=\(status)")
    }

    private func expectOK(_ reply: String, from command: String) throws(HALError) {
        if HostapdReply.isOK(reply) { return }
        if HostapdReply.isUnknownCommand(reply) { throw HALError(.unsupported, device: name, "hostapd does not know \(command)") }
        throw HALError(.rejected, device: name, "\(command) answered \(HostapdReply.quoted(reply))")
    }

    /// Every station hostapd lists. A station that leaves mid-walk makes `STA-NEXT` answer
    /// FAIL; the walk then starts over (twice at most) so later stations are not missed.
    func walkStations(_ connection: HostapdConnection) async throws -> [HostapdStation] {
        var found: [MACAddress: HostapdStation] = [:]
        var order: [MACAddress] = []
        var restarts = 0
        var seenThisPass: Set<MACAddress> = []
        var reply = try await connection.request("STA-FIRST")
        while true {
            let parsed: HostapdStationReply.Parsed
            do { parsed = try HostapdStationReply.parse(reply, width: counterWidth) } catch {
                throw HALError(.protocolViolation, device: name, "\(error)")
            }
            guard case .station(let station) = parsed else {
                if HostapdReply.isFailure(reply) && !seenThisPass.isEmpty && restarts < 2 {
                    restarts += 1
                    seenThisPass = []
                    reply = try await connection.request("STA-FIRST")
                    continue
                }
                break
            }
            let mac = station.info.mac
            // A station listed twice in one pass means the list looped: stop there.
            guard seenThisPass.insert(mac).inserted, seenThisPass.count <= 4096 else { break }
            if found[mac] == nil { order.append(mac) }
            found[mac] = station
            reply = try await connection.request("STA-NEXT \(mac)")
        }
        let stations = order.map { found[$0]! }
        var learned: AccessPointCapabilities = []
        if stations.contains(where: \.reportsCounters) { learned.insert(.byteCounters) }
        if stations.contains(where: \.reportsSignal) { learned.insert(.signalStrength) }
        if !learned.isEmpty { core.withLock { $0.capabilities.formUnion(learned) } }
        return stations
    }
}
