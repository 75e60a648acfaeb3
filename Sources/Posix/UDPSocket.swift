#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 address and port.
public struct IPv4Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var probe = in_addr()
        let host = String(text[..<colon])
        guard inet_pton(AF_INET, host, &probe) == 1 else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { "\(host):\(port)" }
}

/// A non-blocking IPv4 UDP socket whose waits go through `IOReactor`.
public final class UDPSocket: @unchecked Sendable {
    public let fd: Int32
    private let reactor: IOReactor

    /// Binds `host:port` (`port` 0 picks a free one: see `localPort`).
    public init(bindingTo endpoint: IPv4Endpoint, reactor: IOReactor = .shared) throws(SystemError) {
        var address = try ipv4Address(endpoint.host, port: endpoint.port)
        fd = try valueOrErrno { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0) }.get("socket")
        self.reactor = reactor
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in nothingOrErrno { bind(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        do throws(SystemError) { try bound.get("bind udp \(endpoint)") } catch {
            Glibc.close(fd)
            throw error
        }
    }

    public var localPort: UInt16? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        return ok ? UInt16(bigEndian: address.sin_port) : nil
    }

    /// Receives one datagram and who sent it.
    public func receive(maxBytes: Int = 4096, deadline: ContinuousClock.Instant? = nil) async throws -> (bytes: [UInt8], sender: IPv4Endpoint) {
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        while true {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, maxBytes, Int32(MSG_DONTWAIT), $0, &length) }
                }
            }
            if n >= 0 {
                buffer.removeSubrange(n...)
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
                let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return (buffer, IPv4Endpoint(host: host, port: UInt16(bigEndian: address.sin_port)))
            }
            let error = Errno.current
            if error == .interrupted { continue }
            guard error == .wouldBlock else { throw SystemError(error, "receive udp") }
            try await reactor.wait(for: .readable, on: fd, deadline: deadline)
        }
    }

    /// Sends one datagram (dropped by the kernel, not waited for, if the buffer is full).
    public func send(_ bytes: [UInt8], to endpoint: IPv4Endpoint) throws(SystemError) {
        var address = try ipv4Address(endpoint.host, port: endpoint.port)
        let n = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                valueOrErrno { bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), sa, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
        }
        _ = try n.get("send udp to \(endpoint)")
    }

    public func close() {
        reactor.forget(fd)
        Glibc.close(fd)
    }
}
