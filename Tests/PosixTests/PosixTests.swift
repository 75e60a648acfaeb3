#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Posix

func temporaryDirectory() throws -> String {
    var template = Array("/tmp/qlink-posix-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw Errno.current }
    return String(cString: made)
}

struct SocketTests {
    @Test func datagramRoundTripWithSenderPath() async throws {
        let dir = try temporaryDirectory()
        defer { _ = system("rm -rf '\(dir)'") }
        let server = try UnixSocket(.datagram)
        try server.bind("\(dir)/server")
        let client = try UnixSocket(.datagram)
        try client.bind("\(dir)/client")
        try await client.connect("\(dir)/server")
        try await client.send(Array("PING".utf8))
        let (bytes, sender) = try await server.receiveFrom(deadline: .now + .seconds(30))
        #expect(bytes == Array("PING".utf8))
        #expect(sender == "\(dir)/client")
        try server.send(Array("PONG\n".utf8), to: sender!)
        #expect(try await client.receive(deadline: .now + .seconds(30)) == Array("PONG\n".utf8))
        client.close()
        server.close()
        #expect(!FileSystem.exists("\(dir)/server"))
    }

    @Test func receiveTimesOutAtItsDeadline() async throws {
        let dir = try temporaryDirectory()
        defer { _ = system("rm -rf '\(dir)'") }
        let socket = try UnixSocket(.datagram)
        try socket.bind("\(dir)/quiet")
        defer { socket.close() }
        await #expect { _ = try await socket.receive(deadline: .now + .milliseconds(50)) } throws: { error in
            (error as? SystemError)?.errno == .timedOut
        }
    }

    @Test func cancellingAWaitingReceiveEndsIt() async throws {
        let dir = try temporaryDirectory()
        defer { _ = system("rm -rf '\(dir)'") }
        let socket = try UnixSocket(.datagram)
        try socket.bind("\(dir)/quiet")
        defer { socket.close() }
        let waiting = Task { try await socket.receive() }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }

    @Test func streamAcceptSendAndPeerClose() async throws {
        let dir = try temporaryDirectory()
        defer { _ = system("rm -rf '\(dir)'") }
        let listener = try UnixSocket(.stream)
        try listener.bind("\(dir)/s.sock", mode: 0o660)
        try listener.listen()
        #expect(try FileSystem.permissions("\(dir)/s.sock") == 0o660)
        async let accepted = listener.accept()
        let client = try UnixSocket(.stream)
        try await client.connect("\(dir)/s.sock", deadline: .now + .seconds(30))
        let server = try await accepted
        let payload = [UInt8](repeating: 7, count: 300_000)
        async let sent: Void = client.send(payload, deadline: .now + .seconds(30))
        var received: [UInt8] = []
        while received.count < payload.count { received += try await server.receive(deadline: .now + .seconds(30)) }
        try await sent
        #expect(received == payload)
        #expect(server.peerCredentials()?.pid == getpid())
        client.close()
        #expect(try await server.receive(deadline: .now + .seconds(30)).isEmpty)
        server.close()
        listener.close()
    }

    @Test func connectingToNothingIsRefusedByName() async throws {
        let client = try UnixSocket(.stream)
        defer { client.close() }
        await #expect { try await client.connect("/nonexistent/qlinkd.sock") } throws: { error in
            (error as? SystemError)?.errno == .noEntry && "\(error)".contains("/nonexistent/qlinkd.sock")
        }
    }
}

struct FileSystemTests {
    @Test func durableWriteReplacesOrRefuses() throws {
        let dir = try temporaryDirectory()
        defer { _ = system("rm -rf '\(dir)'") }
        let path = "\(dir)/a/b/file"
        try FileSystem.createDirectory(FileSystem.parent(of: path))
        try FileSystem.writeDurably(path, [1, 2, 3], mode: 0o600)
        try FileSystem.writeDurably(path, [4, 5])
        #expect(try FileSystem.readFile(path) == [4, 5])
        #expect { try FileSystem.writeDurably(path, [9], replace: false) } throws: { ($0 as? SystemError)?.errno == .exists }
        #expect(try FileSystem.readFile(path) == [4, 5])
        #expect(try FileSystem.listDirectory("\(dir)/a/b") == ["file"])
    }

    @Test func parentOfPaths() {
        #expect(FileSystem.parent(of: "/a/b") == "/a")
        #expect(FileSystem.parent(of: "/a") == "/")
        #expect(FileSystem.parent(of: "a") == ".")
    }
}

struct SystemdNotifierTests {
    @Test func sendsKeyValueLinesToTheNotifySocket() async throws {
        let dir = try temporaryDirectory()
        defer { _ = system("rm -rf '\(dir)'") }
        let systemd = try UnixSocket(.datagram)
        try systemd.bind("\(dir)/notify")
        defer { systemd.close() }
        let env = ["NOTIFY_SOCKET": "\(dir)/notify", "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "\(getpid())"]
        let notifier = SystemdNotifier { env[$0] }
        #expect(notifier.watchdogInterval == .seconds(3))
        try notifier.ready(status: "2 subscribers")
        #expect(String(decoding: try await systemd.receive(deadline: .now + .seconds(30)), as: UTF8.self) == "READY=1\nSTATUS=2 subscribers")
        try notifier.watchdogKeepalive()
        #expect(String(decoding: try await systemd.receive(deadline: .now + .seconds(30)), as: UTF8.self) == "WATCHDOG=1")
    }

    @Test func watchdogForAnotherPidIsIgnoredAndNoSocketIsSilent() throws {
        let env = ["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"]
        let notifier = SystemdNotifier { env[$0] }
        #expect(notifier.watchdogInterval == nil)
        #expect(notifier.socketPath == nil)
        try notifier.ready(status: "nothing happens")
    }
}
