#if canImport(Glibc)
import Glibc
#endif

/// Runs a C call that returns -1 and sets errno on failure, retrying on EINTR when asked.
@inlinable
func valueOrErrno<T: BinaryInteger>(retryOnInterrupt: Bool = true, _ call: () -> T) -> Result<T, Errno> {
    while true {
        let value = call()
        if value != -1 { return .success(value) }
        let err = Errno.current
        if retryOnInterrupt && err == .interrupted { continue }
        return .failure(err)
    }
}

/// As `valueOrErrno`, for calls whose only interesting result is success.
@inlinable
func nothingOrErrno<T: BinaryInteger>(retryOnInterrupt: Bool = true, _ call: () -> T) -> Result<Void, Errno> {
    valueOrErrno(retryOnInterrupt: retryOnInterrupt, call).map { _ in () }
}

/// Fills a `sockaddr_un` with `path`, or fails with ENAMETOOLONG.
func withUnixAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> Result<R, Errno> {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity else { return .failure(Errno(rawValue: ENAMETOOLONG)) }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        // An abstract address ("@name") starts with a NUL byte.
        if bytes.first == UInt8(ascii: "@") { raw[0] = 0 }
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == UInt8(ascii: "@") ? 0 : 1))
    return .success(withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
    })
}
