import Testing
import Logging
import Posix
import Synchronization
@testable import Daemon

final class Recorder: Sendable {
    let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct RecordingService: Service {
    let name: String
    let recorder: Recorder
    var failAfter: Duration?

    func run() async throws {
        recorder.add("start \(name)")
        do {
            if let failAfter {
                try await Task.sleep(for: failAfter)
                throw ServiceFailure(message: "boom")
            }
            try await Task.sleep(for: .seconds(3600))
        } catch is CancellationError {
            recorder.add("stop \(name)")
            throw CancellationError()
        }
    }
}

struct ServiceGroupTests {
    @Test func startsInOrderAndStopsInReverse() async throws {
        let recorder = Recorder()
        let group = ServiceGroup(["a", "b", "c"].map { RecordingService(name: $0, recorder: recorder) },
                                 logger: Logger(label: "test", handler: InMemoryLogHandler()))
        let running = Task { try await group.run() }
        while recorder.all.count < 3 { await Task.yield() }
        group.shutdown(reason: "test")
        try await running.value
        #expect(recorder.all == ["start a", "start b", "start c", "stop c", "stop b", "stop a"])
    }

    @Test func aFailingServiceStopsTheGroupAndIsReported() async {
        let recorder = Recorder()
        let group = ServiceGroup([RecordingService(name: "steady", recorder: recorder),
                                  RecordingService(name: "flaky", recorder: recorder, failAfter: .milliseconds(10))],
                                 logger: Logger(label: "test", handler: InMemoryLogHandler()))
        await #expect { try await group.run() } throws: { "\($0)".contains("flaky: boom") }
        #expect(recorder.all.last == "stop steady")
    }
}

struct StationIdentityTests {
    @Test func createsOnceWithMode0600AndNeverOverwrites() throws {
        let dir = try TemporaryDirectory()
        let path = "\(dir.path)/state/station.key"
        let first = try StationIdentity.loadOrCreate(path: path)
        #expect(first.created)
        let second = try StationIdentity.loadOrCreate(path: path)
        #expect(!second.created)
        #expect(second.key.publicKey == first.key.publicKey)
        #expect(try FileSystem.permissions(path) == 0o600)
    }

    @Test func aDamagedKeyIsRefusedNotReplaced() throws {
        let dir = try TemporaryDirectory()
        let path = "\(dir.path)/station.key"
        try FileSystem.writeDurably(path, Array("not a key\n".utf8))
        #expect { try StationIdentity.loadOrCreate(path: path) } throws: { "\($0)".contains("refusing to replace it") }
        #expect(try FileSystem.readFile(path) == Array("not a key\n".utf8))
    }
}
