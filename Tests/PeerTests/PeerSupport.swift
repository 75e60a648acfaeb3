import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Why a peer test cannot go on; thrown, so the test fails loudly instead of skipping.
struct PeerFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Programs from Debian the peer tests drive.
enum PeerTool {
    /// The absolute path of `name`, or a failure naming the package to install.
    static func require(_ name: String, package: String) throws -> String {
        for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let path = "\(directory)/\(name)"
            if access(path, X_OK) == 0 { return path }
        }
        throw PeerFailure("\(name) is not installed (apt-get install \(package)); peer tests need it and never skip")
    }

    /// The directory holding this test binary (and the package's built executables).
    static var buildDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }
}

/// A program started by a test, with its output in a log file; `stop()` always ends it.
///
/// Started with `posix_spawn` and an empty signal mask: Foundation's `Process`, called from
/// a Swift concurrency thread, passes on that thread's mask (nearly every signal blocked),
/// and a hostapd started that way never sees SIGTERM.
final class PeerProcess: @unchecked Sendable {
    let name: String
    let logPath: String
    let pid: pid_t
    private var exitStatus: Int32?

    init(_ executable: String, _ arguments: [String], logPath: String) throws {
        name = (executable as NSString).lastPathComponent + " " + arguments.prefix(4).joined(separator: " ")
        self.logPath = logPath
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var child = pid_t()
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw PeerFailure("cannot start \(executable): \(String(cString: strerror(result)))") }
        pid = child
    }

    var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exitStatus = status; return false }
        return true
    }

    /// The exit code (or 128 + the signal), once it has exited.
    var terminationStatus: Int32 {
        guard let status = exitStatus else { return -1 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits (bounded) for the process to exit; true if it did.
    @discardableResult
    func waitForExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning && Date() < deadline { usleep(20_000) }
        return !isRunning
    }

    /// SIGTERM, then SIGKILL if it has not gone within `grace` seconds.
    func stop(grace: Double = 3) {
        guard isRunning else { return }
        signal(SIGTERM)
        if !waitForExit(seconds: grace) {
            signal(SIGKILL)
            waitForExit(seconds: 5)
        }
    }

    /// The end of the log, for failure messages.
    func logTail(_ lines: Int = 30) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return "--- \(name) (\(logPath)) ---\n" + text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Runs a short command to completion (bounded) and returns its exit status and output.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], timeout: Double = 10, check: Bool = true) throws -> (status: Int32, output: String) {
    let logPath = NSTemporaryDirectory() + "qlt-cmd-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
    defer { unlink(logPath) }
    let child = try PeerProcess(executable, arguments, logPath: logPath)
    if !child.waitForExit(seconds: timeout) {
        child.stop(grace: 1)
        throw PeerFailure("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
    }
    let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    let status = child.terminationStatus
    if check && status != 0 {
        throw PeerFailure("\(executable) \(arguments.joined(separator: " ")) exited \(status): \(output)")
    }
    return (status, output)
}

/// Undo actions, run in reverse order even when the test fails.
final class Cleanup: @unchecked Sendable {
    private var actions: [() -> Void] = []
    func add(_ action: @escaping () -> Void) { actions.append(action) }
    func run() {
        while let action = actions.popLast() { action() }
    }
}

/// A fresh directory under /tmp, removed at cleanup.
func makeTemporaryDirectory(_ prefix: String, cleanup: Cleanup) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw PeerFailure("mkdtemp failed: \(errno)")
    }
    let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    cleanup.add { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try condition()
}

/// Seconds since `start`, rounded to milliseconds, for the measurements the tests print.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds / 1_000_000_000_000_000) / 1000
}
