import HAL
import Logging
import Posix

/// Receives hostapd's RADIUS accounting on loopback, so every session's final byte
/// counters reach the meter: hostapd's control interface announces a disconnect without
/// counters, but its Accounting-Stop carries them (octets and gigawords, 64-bit even where
/// the driver counts in 32 bits). Configure hostapd with `acct_server_addr`,
/// `acct_server_port` and `acct_server_shared_secret` pointing here.
///
/// Every request is answered (hostapd retransmits until it is); a retransmission is
/// recognised (by its attributes: hostapd gives it a new Identifier) and answered again
/// without being counted twice. Requests that do not carry the shared secret's
/// authenticator are dropped and logged.
public final class RADIUSAccountingServer: Sendable {
    public let endpoint: IPv4Endpoint
    private let secret: [UInt8]
    private let logger: Logger
    private let socket: UDPSocket

    /// Binds at once, so a bad address or a taken port is an error at start, not later.
    public init(endpoint: IPv4Endpoint, secret: String, logger: Logger) throws {
        guard !secret.isEmpty else { throw HALError(.rejected, device: "radius \(endpoint)", "the shared secret is empty") }
        self.secret = Array(secret.utf8)
        self.logger = logger
        socket = try UDPSocket(bindingTo: endpoint)
        self.endpoint = IPv4Endpoint(host: endpoint.host, port: socket.localPort ?? endpoint.port)
    }

    /// Serves until cancelled; reports `.finalCounters` for each Accounting-Stop.
    public func run(events: @escaping HALEventSink) async throws {
        defer { socket.close() }
        var answered = RecentRequests(capacity: 256)
        var rejected = 0
        while !Task.isCancelled {
            let (bytes, sender) = try await socket.receive()
            let packet: RADIUSAccountingPacket
            do { packet = try RADIUSAccountingPacket(request: bytes, secret: secret) } catch {
                rejected += 1
                if rejected == 1 || rejected % 100 == 0 { logger.warning("radius accounting from \(sender): \(error) (\(rejected) dropped)") }
                continue
            }
            let key = RecentRequests.Key(sender: sender, packet: packet)
            if !answered.contains(key) {
                handle(packet, from: sender, events: events)
                answered.insert(key)
            }
            do { try socket.send(packet.response(secret: secret), to: sender) } catch {
                logger.warning("radius accounting reply to \(sender): \(error)")
            }
        }
    }

    private func handle(_ packet: RADIUSAccountingPacket, from sender: IPv4Endpoint, events: HALEventSink) {
        guard let status = packet.statusType else {
            logger.warning("radius accounting from \(sender) without a valid Acct-Status-Type")
            return
        }
        switch status {
        case .stop:
            guard let mac = packet.station else {
                logger.warning("Accounting-Stop from \(sender) without a Calling-Station-Id")
                return
            }
            guard let counters = packet.counters else {
                logger.debug("Accounting-Stop for \(mac) without counters (the driver reports none)")
                return
            }
            // Acct-Delay-Time says how long ago the Stop was first sent (it grows with each
            // retransmission): with Acct-Session-Time, how long ago the session began.
            let began = packet.integer(.sessionTime).map { UInt64($0) + UInt64(packet.integer(.delayTime) ?? 0) }
            events(.finalCounters(.mac(mac), counters, sessionSeconds: began))
        case .start, .interimUpdate, .accountingOn, .accountingOff:
            logger.debug("radius accounting \(status) from \(sender)")
        }
    }
}

/// The requests answered lately, to answer a retransmission without counting it again.
struct RecentRequests {
    /// Not Identifier and Authenticator: hostapd changes both when it retransmits.
    struct Key: Hashable {
        let sender: IPv4Endpoint
        let content: [UInt8]

        init(sender: IPv4Endpoint, packet: RADIUSAccountingPacket) {
            self.sender = sender
            content = packet.retransmissionKey
        }
    }

    private var order: [Key] = []
    private var members: Set<Key> = []
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ key: Key) -> Bool { members.contains(key) }

    mutating func insert(_ key: Key) {
        guard members.insert(key).inserted else { return }
        order.append(key)
        if order.count > capacity { members.remove(order.removeFirst()) }
    }
}
