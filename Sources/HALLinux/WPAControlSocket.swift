// The only file of HALLinux that touches C: libwpa_client (CWPACtrl) and Glibc.
import CWPACtrl
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// hostapd's control socket: libwpa_client opens and closes it, everything between is ours.
///
/// `wpa_ctrl_open` creates a datagram socket, binds the client's own path
/// (`/tmp/wpa_ctrl_<pid>-<n>`, or in `clientDirectory`) so that hostapd can reply, and
/// connects it to `DIR/IFACE`; `wpa_ctrl_close` closes it and unlinks that path. Sending
/// and receiving happen here, non-blocking, waiting only through `IOReactor`. libwpa_client
/// 2.10 already sets O_NONBLOCK (it prints `fcntl(ctrl->s, O_NONBLOCK)` if it cannot);
/// `open` sets it again so nothing here depends on that.
final class WPAControlSocket: Sendable {
    /// The server socket, `DIR/IFACE`.
    let path: String
    let fd: Int32
    /// The `struct wpa_ctrl *`; nil once closed. Sends and receives run under this lock,
    /// so no system call can reach a descriptor number that `close` has already released.
    private let handle: Mutex<Handle?>

    /// `struct wpa_ctrl *`, only ever used under `handle`'s lock.
    private struct Handle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private init(path: String, fd: Int32, ctrl: OpaquePointer) {
        self.path = path
        self.fd = fd
        self.handle = Mutex(Handle(pointer: ctrl))
    }

    /// Connects to hostapd at `path`; throws ENOENT / ECONNREFUSED while it is not there.
    static func open(_ path: String, clientDirectory: String? = nil) throws(SystemError) -> WPAControlSocket {
        errno = 0
        let opened: OpaquePointer? = if let clientDirectory { wpa_ctrl_open2(path, clientDirectory) } else { wpa_ctrl_open(path) }
        guard let ctrl = opened else {
            // wpa_ctrl_open leaves connect()'s errno; a failed bind or a missing path may leave none.
            throw SystemError(errno != 0 ? .current : .noEntry, "connect \(path)")
        }
        let fd = wpa_ctrl_get_fd(ctrl)
        do {
            try FileDescriptor(rawValue: fd).setNonBlocking()
        } catch {
            wpa_ctrl_close(ctrl)
            throw error
        }
        return WPAControlSocket(path: path, fd: fd, ctrl: ctrl)
    }

    private enum Attempt { case done(Int), retry, waitWritable, waitReadable }

    /// Sends one command datagram. hostapd's absence shows up here as ECONNREFUSED
    /// (first send after it died), ENOTCONN (later sends) or ENOENT.
    func send(_ command: String, deadline: ContinuousClock.Instant) async throws {
        let bytes = Array(command.utf8)
        while true {
            let attempt = try handle.withLock { ctrl throws(SystemError) -> Attempt in
                guard ctrl != nil else { throw SystemError(.badFileDescriptor, "send to \(path): socket closed") }
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
                if n >= 0 { return .done(n) }
                let error = Errno.current
                if error == .interrupted { return .retry }
                if error == .wouldBlock { return .waitWritable }
                throw SystemError(error, "send to \(path)")
            }
            switch attempt {
            case .done(let n):
                if n != bytes.count { throw SystemError(.messageTooLong, "send to \(path)") }
                return
            case .retry, .waitReadable: continue
            case .waitWritable: try await IOReactor.shared.wait(for: .writable, on: fd, deadline: deadline)
            }
        }
    }

    /// Sends without waiting and ignores the outcome (a farewell `DETACH`).
    func sendNow(_ command: String) {
        let bytes = Array(command.utf8)
        handle.withLock { ctrl in
            guard ctrl != nil else { return }
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        }
    }

    /// Receives one datagram (a reply or an event), waiting as long as it takes.
    func receive(maxBytes: Int = 16384) async throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        while true {
            let attempt = try handle.withLock { ctrl throws(SystemError) -> Attempt in
                guard ctrl != nil else { throw SystemError(.badFileDescriptor, "receive from \(path): socket closed") }
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, maxBytes, Int32(MSG_DONTWAIT)) }
                if n >= 0 { return .done(n) }
                let error = Errno.current
                if error == .interrupted { return .retry }
                if error == .wouldBlock { return .waitReadable }
                throw SystemError(error, "receive from \(path)")
            }
            switch attempt {
            case .done(let n): return Array(buffer[..<n])
            case .retry, .waitWritable: continue
            case .waitReadable: try await IOReactor.shared.wait(for: .readable, on: fd)
            }
        }
    }

    /// Closes the socket and unlinks the client path (idempotent). Pending waits fail with EBADF.
    func close() {
        handle.withLock { ctrl in
            guard let open = ctrl else { return }
            ctrl = nil
            IOReactor.shared.forget(fd)  // before wpa_ctrl_close closes the descriptor
            wpa_ctrl_close(open.pointer)
        }
    }

    /// Whether the descriptor is non-blocking now.
    var isNonBlocking: Bool { fcntl(fd, F_GETFL) & O_NONBLOCK != 0 }

    /// The descriptor flags libwpa_client itself leaves (for a test of that fact): opens `path`
    /// with `wpa_ctrl_open`, reads F_GETFL, closes. Nil when hostapd is not there.
    static func flagsLeftByLibrary(connectingTo path: String) -> (nonBlocking: Bool, clientPathUnlinked: Bool)? {
        guard let ctrl = wpa_ctrl_open(path) else { return nil }
        let fd = wpa_ctrl_get_fd(ctrl)
        let nonBlocking = fcntl(fd, F_GETFL) & O_NONBLOCK != 0
        let client = localPath(of: fd)
        wpa_ctrl_close(ctrl)
        return (nonBlocking, client.map { access($0, F_OK) != 0 } ?? false)
    }

    /// The path this socket is bound to (the client side), if any.
    var clientPath: String? { Self.localPath(of: fd) }

    private static func localPath(of fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok, Int(length) > MemoryLayout<sa_family_t>.size else { return nil }
        return withUnsafeBytes(of: address.sun_path) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// Which socket file sits at a path: a restarted hostapd binds a new one (new inode and
/// change time), so an unchanged identity after a loss means the same hostapd came back.
struct SocketFileIdentity: Hashable, Sendable, CustomStringConvertible {
    let device: UInt64
    let inode: UInt64
    let changed: Int64
    let changedNanoseconds: Int64

    static func of(_ path: String) -> SocketFileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return SocketFileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                                  changed: Int64(info.st_ctim.tv_sec), changedNanoseconds: Int64(info.st_ctim.tv_nsec))
    }

    var description: String { "inode \(inode) ctime \(changed).\(changedNanoseconds)" }
}

/// The permission bits of an existing file, to keep them when it is rewritten.
func existingPermissions(of path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}
