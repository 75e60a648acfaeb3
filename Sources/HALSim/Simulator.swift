import CLinux
import Crypto
import HAL
import Logging
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// The running simulated board: lays out the root directory, stands up every endpoint,
/// writes `qlinkd.conf`, signals readiness, ticks the world in real time and cleans up.
public struct Simulator: Sendable {
    /// Real-time step between world updates.
    public static let tick = Duration.milliseconds(50)

    public let options: SimulatorOptions
    public let scenario: Scenario
    private let logger: Logger

    public var hostapdDirectory: String { "\(options.root)/hostapd" }
    public var pskPath: String { "\(hostapdDirectory)/wpa_psk" }
    public var controlPath: String { "\(options.root)/hal-sim.sock" }
    public var readyPath: String { "\(options.root)/ready" }
    public var configPath: String { "\(options.root)/qlinkd.conf" }
    /// The RADIUS shared secret hostapd and qlinkd share (`acct_server_shared_secret`).
    public var radiusSecretPath: String { "\(hostapdDirectory)/radius-secret" }
    public static let interface = "wlan0"
    /// hostapd's `nas_identifier` (the station's name in `qlinkd.conf`).
    public static let nasIdentifier = "sim-bs1"

    public init(options: SimulatorOptions, scenario: Scenario, logger: Logger) {
        self.options = options
        self.scenario = scenario
        self.logger = logger
    }

    /// The `qlinkd.conf` that points qlinkd's real backends at this board. With an
    /// `accountingPort`, qlinkd listens there for hostapd's RADIUS accounting, with the secret
    /// in `ROOT/hostapd/radius-secret`.
    public static func qlinkdConfiguration(root: String, counterWidth: CounterWidth, openBTSPort: UInt16, gpsdPort: UInt16,
                                           accountingPort: UInt16? = nil) -> String {
        let accounting = accountingPort.map { "accounting = 127.0.0.1:\($0)\naccounting_secret_file = \(root)/hostapd/radius-secret\n" } ?? ""
        return """
        # Written by hal-sim for the simulated board at \(root).
        [station]
        name = \(nasIdentifier)
        board = sim

        [paths]
        state = \(root)/state
        runtime = \(root)/run

        [wifi]
        ctrl_interface = \(root)/hostapd
        interface = \(interface)
        psk_file = \(root)/hostapd/wpa_psk
        counter_bits = \(counterWidth.rawValue)
        \(accounting)
        [metering]
        poll_interval = 1s

        [radio]
        enabled = yes
        backend = openbts
        host = 127.0.0.1
        port = \(openBTSPort)
        band = 900
        channel = 51
        mcc = 001
        mnc = 01
        lac = 1000
        cell_id = 10
        transmit_power = 20
        max_output_power = 20
        capacity = 10

        [board]
        watchdog = \(root)/dev/watchdog
        thermal_root = \(root)/sys/class/thermal
        frontend = \(root)/frontend/present
        gpsd = 127.0.0.1:\(gpsdPort)

        """
    }

    /// Runs until SIGTERM or SIGINT (which must already be blocked); returns the exit status.
    public func run() async -> Int32 {
        do {
            try await serve()
            return 0
        } catch let error as UsageError {
            logger.error(error.message)
            return 1
        } catch {
            logger.error("\(error)")
            return 1
        }
    }

    /// Reads the PSK file as hostapd does at start; nil (and a warning) when it cannot be used.
    private func loadPSK() -> [PSKEntry]? {
        do {
            return try PSKFile.parse(String(decoding: try FileSystem.readFile(pskPath), as: UTF8.self))
        } catch {
            logger.warning("\(pskPath): \(error)")
            return nil
        }
    }

    private func serve() async throws {
        let root = options.root
        guard "\(hostapdDirectory)/\(Self.interface)".utf8.count < 108, controlPath.utf8.count < 108 else {
            throw UsageError("--root \(root) is too long for Unix socket paths (keep it under about 90 characters)")
        }
        try FileSystem.createDirectory(root)
        if await isServing(controlPath) { throw UsageError("another hal-sim is running at \(root)") }
        FileSystem.remove(readyPath)
        try makeDirectory(hostapdDirectory, mode: 0o770)
        if !FileSystem.exists(pskPath) { try FileSystem.writeDurably(pskPath, [], mode: 0o600) }

        let configuration = WorldConfiguration(scenario: scenario, seed: options.seed, speed: options.speed,
                                               subscribers: options.subscribers, ues: options.ues, counterWidth: options.counterWidth)
        let world = World(configuration: configuration) { [self] in loadPSK() }
        if options.paused { world.pause() }
        let logger = self.logger
        world.setNoticeSink { notices in
            for notice in notices {
                switch notice.level {
                case .info: logger.info(notice.message)
                case .notice: logger.notice(notice.message)
                case .warning: logger.warning(notice.message)
                }
            }
        }
        let hostapd = HostapdServer(world: world, directory: hostapdDirectory, interface: Self.interface,
                                    pskPath: pskPath, logger: logger.child("hostapd"))
        world.setEventSink { events in hostapd.deliver(events) }
        try hostapd.start()
        defer { hostapd.stop() }
        let openBTS = OpenBTSServer(world: world, logger: logger.child("openbts"))
        world.setRadioSink { events in openBTS.deliver(events) }
        try openBTS.start()
        defer { openBTS.stop() }
        let gpsd = try GPSDServer(world: world, logger: logger.child("gpsd"))
        gpsd.start()
        defer { gpsd.stop() }
        let board = BoardFiles(root: root, world: world, logger: logger.child("board"))
        try board.create()
        let accounting = try options.accounting ? startAccounting(world, configuration, logger: logger.child("radius")) : nil
        defer { accounting?.stop() }
        let facts: [(String, String)] = [
            ("speed", formatNumber(options.speed)), ("seed", String(options.seed)),
            ("counter_bits", String(options.counterWidth.rawValue)), ("scenario", jsonString(scenario.name)),
            ("openbts_port", String(openBTS.port)), ("gpsd_port", String(gpsd.port)),
        ]
        let control = try ControlServer(world: world, path: controlPath, logger: logger) {
            facts + [("accounting", accounting.map { Self.accountingJSON($0) } ?? "null")]
        }
        control.start()
        defer { control.stop() }
        let conf = Self.qlinkdConfiguration(root: root, counterWidth: options.counterWidth, openBTSPort: openBTS.port, gpsdPort: gpsd.port,
                                            accountingPort: accounting?.server.port)
        try FileSystem.writeDurably(configPath, Array(conf.utf8))
        // hostapd's Accounting-On, and a Start for each station already associated.
        world.enableAccounting()
        try FileSystem.writeDurably(readyPath, [])
        let status = world.status()
        logger.notice("ready at \(root): scenario \(scenario.name), seed \(options.seed), speed \(formatNumber(options.speed)), "
            + "\(status.subscribers) subscribers (\(status.connected) connected), \(status.ues) UEs (\(status.uesAttached) attached), "
            + "\(options.counterWidth.rawValue)-bit counters, OpenBTS CLI on 127.0.0.1:\(openBTS.port), gpsd on 127.0.0.1:\(gpsd.port), "
            + (accounting.map { "RADIUS accounting to \($0.server) from 127.0.0.1:\($0.localPort)" } ?? "no RADIUS accounting"))

        let ticker = Task {
            var last = SystemClock.monotonicNanoseconds()
            var boardFailing = false
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.tick)
                let now = SystemClock.monotonicNanoseconds()
                // A starved process catches up at most a second at a time.
                world.advance(by: .nanoseconds(Int64(min(now - last, 1_000_000_000))))
                last = now
                do {
                    try board.sync()
                    boardFailing = false
                } catch {
                    if !boardFailing { logger.error("board files: \(error)") }
                    boardFailing = true
                }
            }
        }
        let signals = try SignalSource(HALSimCommand.stopSignals)
        defer { signals.close() }
        let signal = try await signals.next()
        logger.notice("signal \(signal): shutting down")
        FileSystem.remove(readyPath)
        ticker.cancel()
        // No tick may bring hostapd back after its socket is gone.
        await ticker.value
    }

    /// hostapd's RADIUS accounting client, aimed at a free UDP port on 127.0.0.1 for qlinkd
    /// (found by binding port 0 and letting it go: another program could take it before
    /// qlinkd binds it, a race hal-sim accepts), with a fresh random shared secret written to
    /// `radius-secret` (mode 0600). The world sends through it once `enableAccounting()`.
    private func startAccounting(_ world: World, _ configuration: WorldConfiguration, logger: Logger) throws -> RADIUSAccountingClient {
        let secret = SecureRandom.bytes(16).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        try FileSystem.writeDurably(radiusSecretPath, Array((secret + "\n").utf8), mode: 0o600)
        let nas = AccountingNAS(identifier: Self.nasIdentifier, bssid: configuration.bssid, ssid: configuration.ssid)
        // The client binds first, so the probe below cannot be handed the client's own port.
        let port = try Self.freeUDPPort()
        let client = try RADIUSAccountingClient(server: IPv4Endpoint(host: "127.0.0.1", port: port), secret: secret, nas: nas, logger: logger)
        world.setAccountingSink { events in client.deliver(events) }
        client.start()
        return client
    }

    /// A UDP port on 127.0.0.1 that was free a moment ago.
    static func freeUDPPort() throws(SystemError) -> UInt16 {
        let probe = try UDPSocket(bindingTo: IPv4Endpoint(host: "127.0.0.1", port: 0))
        defer { probe.close() }
        guard let port = probe.localPort, port != 0 else { throw SystemError(.current, "getsockname udp") }
        return port
    }

    /// `status`'s `accounting` object.
    static func accountingJSON(_ client: RADIUSAccountingClient) -> String {
        let s = client.statistics
        return "{\"server\":\(jsonString(client.server.description)),\"sent\":\(s.sent),\"answered\":\(s.answered),"
            + "\"retransmitted\":\(s.retransmitted),\"unanswered\":\(s.unanswered),\"pending\":\(s.pending),\"dropped\":\(s.dropped)}"
    }

    /// Whether something accepts connections at `path` (a live hal-sim).
    private func isServing(_ path: String) async -> Bool {
        guard FileSystem.exists(path), let probe = try? UnixSocket(.stream) else { return false }
        defer { probe.close() }
        return (try? await probe.connect(path, deadline: ContinuousClock.now + .seconds(2))) != nil
    }
}

// MARK: - The C calls HALSim makes itself (besides libm); every other file goes through Posix.

/// Binds a Unix datagram socket at `path` without handing the path to `UnixSocket`, so that
/// closing this socket never unlinks a newer socket bound later at the same path (hostapd
/// restarts do exactly that). The caller unlinks the path itself.
func bindDatagramSocket(at path: String, mode: mode_t) throws(SystemError) -> UnixSocket {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemError(.current, "socket") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
        close(fd)
        throw SystemError(Errno(rawValue: ENAMETOOLONG), "bind \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    unlink(path)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, chmod(path, mode) == 0 else {
        let error = Errno.current
        close(fd)
        throw SystemError(error, "bind \(path)")
    }
    return try UnixSocket.adopting(fd: fd, kind: .datagram)
}

/// The watchdog file's size, modification time and inode (nil when it is gone).
func statFile(_ path: String) -> FileStamp? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return FileStamp(size: Int(info.st_size), modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                     inode: UInt64(info.st_ino))
}

/// Removes a directory if it is empty, as hostapd does with its ctrl_interface directory
/// on exit ("not empty - leaving it").
func removeDirectoryIfEmpty(_ path: String) {
    _ = rmdir(path)
}

/// Creates a directory (not its parents) with `mode`; an existing one is fine.
func makeDirectory(_ path: String, mode: mode_t) throws(SystemError) {
    if mkdir(path, mode) != 0 && errno != EEXIST { throw SystemError(.current, "mkdir \(path)") }
}

/// The current directory, to resolve relative paths on the command line.
func workingDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "/" }
    return String(cString: buffer)
}

/// Writes `message` and a newline to standard error in one write.
func printError(_ message: String) {
    let bytes = Array((message + "\n").utf8)
    bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}
