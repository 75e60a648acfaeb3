#if canImport(Glibc)
import Glibc
#endif

/// A directory under /tmp removed (with its contents) when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/qlink-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXFailure(errno: errno) }
        path = String(cString: made)
    }

    deinit {
        _ = system("rm -rf '\(path)'")
    }
}

struct POSIXFailure: Error { let errno: Int32 }
