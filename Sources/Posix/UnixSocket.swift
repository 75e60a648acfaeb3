#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking Unix-domain socket (stream or datagram) whose waits go through `IOReactor`.
///
/// The socket owns its descriptor; `close()` releases it (and unlinks a path it bound).
public final class UnixSocket: @unchecked Sendable {
    public enum Kind: Sendable { case stream, datagram }

    public let fd: Int32
    public let kind: Kind
    /// The filesystem path this socket bound, removed on close.
    public private(set) var boundPath: String?
    private let reactor: IOReactor

    init(fd: Int32, kind: Kind, reactor: IOReactor = .shared) {
        self.fd = fd
        self.kind = kind
        self.reactor = reactor
    }

    /// Creates an unbound, unconnected socket.
    public convenience init(_ kind: Kind) throws(SystemError) {
        let type = (kind == .stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let fd = try valueOrErrno { socket(AF_UNIX, type, 0) }.get("socket")
        self.init(fd: fd, kind: kind)
    }

    /// Adopts a descriptor received from elsewhere (made non-blocking).
    public static func adopting(fd: Int32, kind: Kind) throws(SystemError) -> UnixSocket {
        try FileDescriptor(rawValue: fd).setNonBlocking()
        return UnixSocket(fd: fd, kind: kind)
    }

    /// Binds `path`, replacing a stale socket file left by a dead process.
    public func bind(_ path: String, mode: mode_t? = nil) throws(SystemError) {
        unlink(path)
        try withUnixAddress(path) { address, length in nothingOrErrno { Glibc.bind(fd, address, length) } }
            .flatMap { $0 }.get("bind \(path)")
        boundPath = path
        if let mode { try nothingOrErrno { chmod(path, mode) }.get("chmod \(path)") }
    }

    /// Starts accepting connections on a bound stream socket.
    public func listen(backlog: Int32 = 16) throws(SystemError) {
        try nothingOrErrno { Glibc.listen(fd, backlog) }.get("listen \(boundPath ?? "socket")")
    }

    /// Connects to `path` (at once for datagram sockets; waits for stream sockets).
    public func connect(_ path: String, deadline: ContinuousClock.Instant? = nil) async throws {
        let result = try withUnixAddress(path) { address, length in
            valueOrErrno(retryOnInterrupt: false) { Glibc.connect(fd, address, length) }
        }.get("connect \(path)")
        switch result {
        case .success: return
        case .failure(let e) where e == .wouldBlock || e.rawValue == EINPROGRESS || e == .interrupted:
            try await reactor.wait(for: .writable, on: fd, deadline: deadline)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 { throw SystemError(Errno(rawValue: error), "connect \(path)") }
        case .failure(let e): throw SystemError(e, "connect \(path)")
        }
    }

    /// Accepts one connection, waiting for it.
    public func accept() async throws -> UnixSocket {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                let accepted = UnixSocket(fd: client, kind: kind)
                do { try FileDescriptor(rawValue: client).setNonBlocking() } catch { accepted.close(); throw error }
                return accepted
            }
            let error = Errno.current
            guard error == .wouldBlock || error == .interrupted || error.rawValue == ECONNABORTED else {
                throw SystemError(error, "accept")
            }
            if error == .wouldBlock { try await reactor.wait(for: .readable, on: fd) }
        }
    }

    /// Receives one datagram (or some stream bytes); an empty result on a stream means the peer closed.
    public func receive(maxBytes: Int = 65536, deadline: ContinuousClock.Instant? = nil) async throws -> [UInt8] {
        try await receiveFrom(maxBytes: maxBytes, deadline: deadline).bytes
    }

    /// Receives one datagram and the path of the socket that sent it (nil when unbound).
    public func receiveFrom(maxBytes: Int = 65536, deadline: ContinuousClock.Instant? = nil) async throws -> (bytes: [UInt8], sender: String?) {
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        while true {
            var address = sockaddr_un()
            var length = socklen_t(MemoryLayout<sockaddr_un>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, raw.baseAddress, maxBytes, Int32(MSG_DONTWAIT), $0, &length)
                    }
                }
            }
            if n >= 0 {
                buffer.removeSubrange(n...)
                return (buffer, Self.path(of: address, length: length))
            }
            let error = Errno.current
            if error == .interrupted { continue }
            guard error == .wouldBlock else { throw SystemError(error, "receive") }
            try await reactor.wait(for: .readable, on: fd, deadline: deadline)
        }
    }

    /// Sends all of `bytes` on a connected socket.
    public func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant? = nil) async throws {
        var offset = 0
        repeat {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if n >= 0 {
                offset += n
                if kind == .datagram { return }
                continue
            }
            let error = Errno.current
            if error == .interrupted { continue }
            guard error == .wouldBlock else { throw SystemError(error, "send") }
            try await reactor.wait(for: .writable, on: fd, deadline: deadline)
        } while offset < bytes.count
    }

    /// Sends one datagram to `path` from an unconnected datagram socket.
    public func send(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let n = try withUnixAddress(path) { address, length in
            valueOrErrno { bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), address, length) } }
        }.flatMap { $0 }.get("send to \(path)")
        if n != bytes.count { throw SystemError(.messageTooLong, "send to \(path)") }
    }

    /// The peer's credentials (stream sockets).
    public func peerCredentials() -> (pid: Int32, uid: UInt32, gid: UInt32)? {
        var credentials = (pid: Int32(0), uid: UInt32(0), gid: UInt32(0))  // struct ucred
        var length = socklen_t(12)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return credentials
    }

    public func close() {
        reactor.forget(fd)
        Glibc.close(fd)
        if let boundPath { unlink(boundPath) }
        boundPath = nil
    }

    private static func path(of address: sockaddr_un, length: socklen_t) -> String? {
        let pathLength = Int(length) - MemoryLayout<sa_family_t>.size
        guard pathLength > 0 else { return nil }
        return withUnsafeBytes(of: address.sun_path) { raw in
            let bytes = raw.prefix(pathLength)
            if bytes.first == 0 { return "@" + String(decoding: bytes.dropFirst().prefix { $0 != 0 }, as: UTF8.self) }
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
