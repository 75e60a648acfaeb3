import Foundation
import Testing

/// Runs the real executables (hal-sim, qlinkd, qlinkctl) in a temporary directory and
/// talks to them only through their command lines, files and sockets.
final class Harness: @unchecked Sendable {
    let root: String
    private var processes: [Process] = []

    /// Where the built executables are: beside the test bundle, or `$QLINK_BIN_DIR`.
    static let binDirectory: String = {
        if let dir = ProcessInfo.processInfo.environment["QLINK_BIN_DIR"] { return dir }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test bundle may sit inside a .xctest directory.
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("qlinkd").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path
    }()

    init(_ name: String) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("qlink-it-\(name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit {
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        // QLINK_KEEP_TEST_DIRS=1 keeps every run's files (logs, journal) for a post-mortem.
        if ProcessInfo.processInfo.environment["QLINK_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(atPath: root) }
    }

    var config: String { "\(root)/qlinkd.conf" }

    /// Starts an executable in the background; its output goes to `ROOT/NAME.log`.
    @discardableResult
    func start(_ executable: String, _ arguments: [String], log: String? = nil, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(Self.binDirectory)/\(executable)")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let logPath = "\(root)/\(log ?? executable).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes.append(process)
        return process
    }

    /// Runs an executable to completion and returns its exit status and output, without
    /// holding one of the test runner's few threads while it runs.
    func run(_ executable: String, _ arguments: [String], timeout: Double = 30) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "\(Self.binDirectory)/\(executable)")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        // Read while it runs so a full pipe never blocks it.
        let outData = LockedData(), errData = LockedData()
        let group = DispatchGroup()
        for (pipe, sink) in [(out, outData), (err, errData)] {
            group.enter()
            DispatchQueue.global().async { sink.set(pipe.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        }
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        group.wait()
        return (process.terminationStatus, String(decoding: outData.get(), as: UTF8.self), String(decoding: errData.get(), as: UTF8.self))
    }

    func qlinkctl(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await run("qlinkctl", ["--config", config] + arguments)
    }

    func simctl(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await run("hal-sim", ["ctl", "--root", root] + arguments)
    }

    /// Starts hal-sim and waits for `ROOT/ready`.
    func startSimulator(_ arguments: [String] = []) async throws {
        try start("hal-sim", ["--root", root] + arguments)
        try await waitFor("hal-sim ready") { FileManager.default.fileExists(atPath: "\(self.root)/ready") }
    }

    /// Starts qlinkd on hal-sim's config and waits until it answers on its control socket.
    @discardableResult
    func startDaemon(log: String = "qlinkd", environment: [String: String] = [:]) async throws -> Process {
        let daemon = try start("qlinkd", ["--config", config], log: log, environment: environment)
        try await waitFor("qlinkd answering") { (try? await self.qlinkctl(["ping"]).status) == 0 }
        return daemon
    }

    /// Polls `condition` every 100 ms for up to `seconds`; fails naming `what`.
    func waitFor(_ what: String, seconds: Double = 30, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("timed out after \(seconds) s waiting for \(what); logs in \(root):\n\(logs())")
    }

    func logs() -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasSuffix(".log") }) ?? []
        return names.sorted().map { name in
            let text = (try? String(contentsOfFile: "\(root)/\(name)", encoding: .utf8)) ?? ""
            return "== \(name)\n" + text.split(separator: "\n").suffix(40).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class LockedData: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    func set(_ value: Data) { lock.lock(); data = value; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}
