#if canImport(Glibc)
import Glibc
#endif

/// systemd's service notification protocol (sd_notify), written out: one datagram of
/// `KEY=VALUE` lines to the socket named by `$NOTIFY_SOCKET`.
public struct SystemdNotifier: Sendable {
    /// The socket path, or nil when not started by systemd (then every call does nothing).
    public let socketPath: String?
    /// The watchdog interval systemd expects keepalives within (`$WATCHDOG_USEC`), if any.
    public let watchdogInterval: Duration?

    public init(environment: (String) -> String? = ProcessInfo.environment) {
        socketPath = environment("NOTIFY_SOCKET").flatMap { $0.isEmpty ? nil : $0 }
        let pidMatches = environment("WATCHDOG_PID").map { Int32($0) == getpid() } ?? true
        if pidMatches, let usec = environment("WATCHDOG_USEC").flatMap(UInt64.init), usec > 0 {
            watchdogInterval = .microseconds(usec)
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends `fields` (e.g. `["READY": "1", "STATUS": "..."]`) in one datagram.
    public func notify(_ fields: KeyValuePairs<String, String>) throws(SystemError) {
        guard let socketPath else { return }
        let message = fields.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        let fd = try valueOrErrno { socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }.get("socket")
        defer { Glibc.close(fd) }
        let sender = UnixSocket(fd: fd, kind: .datagram)
        try sender.send(Array(message.utf8), to: socketPath)
    }

    public func ready(status: String) throws(SystemError) { try notify(["READY": "1", "STATUS": status]) }
    public func status(_ text: String) throws(SystemError) { try notify(["STATUS": text]) }
    public func stopping() throws(SystemError) { try notify(["STOPPING": "1"]) }
    public func reloading() throws(SystemError) { try notify(["RELOADING": "1"]) }
    public func watchdogKeepalive() throws(SystemError) { try notify(["WATCHDOG": "1"]) }
}
