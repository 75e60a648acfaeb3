#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A non-blocking IPv4 TCP socket (client or listener) whose waits go through `IOReactor`.
///
/// Meant for loopback peers such as a radio stack's control port. Every system call on the
/// descriptor happens under a lock that `close()` also takes, so a socket closed by one task
/// while another uses it fails cleanly with EBADF instead of touching a reused descriptor
/// number; `close()` may be called more than once.
public final class TCPSocket: Sendable {
    private let descriptor: Mutex<Int32>
    private let reactor: IOReactor

    init(fd: Int32, reactor: IOReactor = .shared) {
        descriptor = Mutex(fd)
        self.reactor = reactor
    }

    /// The descriptor, or -1 once closed.
    public var fd: Int32 { descriptor.withLock { $0 } }

    /// Connects to `host` (a dotted IPv4 address, e.g. `127.0.0.1`) on `port`, waiting at
    /// most until `deadline`. Throws `SystemError` with ECONNREFUSED when nobody listens,
    /// ETIMEDOUT at the deadline, EINVAL for a host that is not an IPv4 address.
    public static func connect(host: String, port: UInt16, deadline: ContinuousClock.Instant? = nil) async throws -> TCPSocket {
        var address = try ipv4Address(host, port: port)
        let fd = try valueOrErrno { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0) }.get("socket")
        let made = TCPSocket(fd: fd)
        let peer = "\(host):\(port)"
        do {
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    valueOrErrno(retryOnInterrupt: false) { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            switch result {
            case .success: break
            case .failure(let e) where e.rawValue == EINPROGRESS || e == .interrupted || e == .wouldBlock:
                try await made.reactor.wait(for: .writable, on: fd, deadline: deadline)
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error != 0 { throw SystemError(Errno(rawValue: error), "connect \(peer)") }
            case .failure(let e):
                throw SystemError(e, "connect \(peer)")
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return made
        } catch let error as SystemError where error.errno == .timedOut {
            made.close()
            throw SystemError(.timedOut, "connect \(peer)")
        } catch {
            made.close()
            throw error
        }
    }

    /// Binds and listens on `host:port` (`port` 0 picks a free one: see `localPort`).
    public static func listen(host: String = "127.0.0.1", port: UInt16 = 0, backlog: Int32 = 16) throws(SystemError) -> TCPSocket {
        var address = try ipv4Address(host, port: port)
        let fd = try valueOrErrno { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0) }.get("socket")
        let made = TCPSocket(fd: fd)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                nothingOrErrno { Glibc.bind(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        do throws(SystemError) {
            try bound.get("bind \(host):\(port)")
            try nothingOrErrno { Glibc.listen(fd, backlog) }.get("listen \(host):\(port)")
        } catch {
            made.close()
            throw error
        }
        return made
    }

    /// The local port (useful after listening on port 0); nil once closed.
    public var localPort: UInt16? {
        descriptor.withLock { fd in
            guard fd >= 0 else { return nil }
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
            }
            return ok ? UInt16(bigEndian: address.sin_port) : nil
        }
    }

    /// Accepts one connection on a listening socket, waiting for it.
    public func accept() async throws -> TCPSocket {
        while true {
            let (fd, client, error) = descriptor.withLock { fd -> (Int32, Int32, Errno) in
                guard fd >= 0 else { return (fd, -1, .badFileDescriptor) }
                let client = Glibc.accept(fd, nil, nil)
                guard client >= 0 else { return (fd, client, .current) }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                return (fd, client, Errno(rawValue: 0))
            }
            if client >= 0 { return TCPSocket(fd: client, reactor: reactor) }
            guard error == .wouldBlock || error == .interrupted || error.rawValue == ECONNABORTED else {
                throw SystemError(error, "accept")
            }
            if error == .wouldBlock { try await reactor.wait(for: .readable, on: fd) }
        }
    }

    /// Receives some bytes (at most `maxBytes`), waiting until `deadline`; an empty result
    /// means the peer closed its side. Throws `SystemError(.timedOut)` at the deadline.
    public func receive(maxBytes: Int = 65536, deadline: ContinuousClock.Instant? = nil) async throws -> [UInt8] {
        while true {
            let (fd, result) = attempt { fd in receiveNow(fd, maxBytes) }
            switch result {
            case .success(let bytes): return bytes
            case .failure(let error) where error == .wouldBlock:
                try await reactor.wait(for: .readable, on: fd, deadline: deadline)
            case .failure(let error):
                throw SystemError(error, "receive")
            }
        }
    }

    /// The bytes already waiting, without waiting: nil when there are none, empty when the
    /// peer has closed its side.
    public func receiveAvailable(maxBytes: Int = 65536) throws(SystemError) -> [UInt8]? {
        switch attempt({ fd in receiveNow(fd, maxBytes) }).1 {
        case .success(let bytes): return bytes
        case .failure(let error) where error == .wouldBlock: return nil
        case .failure(let error): throw SystemError(error, "receive")
        }
    }

    /// Sends all of `bytes`, waiting for room until `deadline`.
    public func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant? = nil) async throws {
        var offset = 0
        while offset < bytes.count {
            let (fd, result) = attempt { fd in
                valueOrErrno {
                    bytes.withUnsafeBytes { raw in
                        Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
                    }
                }
            }
            switch result {
            case .success(let n): offset += n
            case .failure(let error) where error == .wouldBlock:
                try await reactor.wait(for: .writable, on: fd, deadline: deadline)
            case .failure(let error):
                throw SystemError(error, "send")
            }
        }
    }

    /// Closes the descriptor (waiters fail with EBADF); later calls do nothing.
    public func close() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            reactor.forget(fd)
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    deinit { close() }

    // MARK: - Helpers

    /// Runs `call` on the open descriptor under the lock; EBADF once closed.
    private func attempt<T>(_ call: (Int32) -> Result<T, Errno>) -> (Int32, Result<T, Errno>) {
        descriptor.withLock { fd in
            guard fd >= 0 else { return (fd, .failure(.badFileDescriptor)) }
            return (fd, call(fd))
        }
    }

    private func receiveNow(_ fd: Int32, _ maxBytes: Int) -> Result<[UInt8], Errno> {
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        let result = valueOrErrno {
            buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, maxBytes, Int32(MSG_DONTWAIT)) }
        }
        return result.map { n in
            buffer.removeSubrange(n...)
            return buffer
        }
    }
}

/// `host` (a dotted IPv4 address) and `port` as a socket address.
func ipv4Address(_ host: String, port: UInt16) throws(SystemError) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
        throw SystemError(.invalidArgument, "\(host) is not an IPv4 address")
    }
    return address
}
