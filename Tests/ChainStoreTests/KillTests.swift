#if canImport(Glibc)
import ChainTestSupport
import Glibc
#endif
import ChainStore
import Crypto
import Ledger
import Posix
import Testing

/// Real `kill -9`: the test binary re-invokes itself (through `/proc/self/exe`, with
/// Posix `Subprocess`) to run `childWriter`, which appends, finalizes and reverts
/// blocks until it is killed at a random instant. The child finds its directory in a
/// marker file named by its parent's pid, so a normal test run skips it. After each
/// kill the parent opens the store: its state must equal the replay of its blocks, and
/// every block the child had acknowledged must still be there.
struct KillDuringWrites {
    static let markerPrefix = "/tmp/qlink-chainstore-kill-"

    static func configuration() -> ChainStore.Configuration {
        testConfiguration(snapshotInterval: 25, segmentBytes: 20_000)
    }

    /// The child's side; does nothing unless the parent left a marker.
    @Test func childWriter() throws {
        guard let marker = try? FileSystem.readFile("\(Self.markerPrefix)\(getppid())") else { return }
        let directory = String(decoding: marker, as: UTF8.self)
        let store = try ChainStore(directory: directory, genesis: ChainBuilder.genesis, configuration: Self.configuration())
        let journal = try FileDescriptor.open(directory + ".journal", [.writeOnly, .append, .create])
        func note(_ line: String) throws { try journal.writeAll(Array((line + "\n").utf8)) }
        var random = SeededGenerator(seed: UInt64(getpid()))
        var builder = try ChainBuilder(replaying: store, through: store.head.height, seed: random.next())
        var history: [UInt64: ChainBuilder] = [builder.height: builder]
        let deadline = SystemClock.monotonicNanoseconds() + 60_000_000_000
        while SystemClock.monotonicNanoseconds() < deadline {
            switch random.next() % 8 {
            case 0:
                try note("append")
                let batch = (0..<3).map { _ in
                    let block = builder.next()
                    history[builder.height] = builder
                    return block
                }
                try store.append(contentsOf: batch)
            case 1 where store.head.height > store.finalHeight + 2:
                try note("final")
                try store.markFinal(store.head.height - 2)
            case 2 where store.head.height >= store.finalHeight + 2:
                let target = store.head.height - 2
                try note("revert \(target)")
                try store.revert(to: target)
                builder = try history[target] ?? ChainBuilder(replaying: store, through: target, seed: random.next())
                builder.random = SeededGenerator(seed: random.next())
            default:
                try note("append")
                try store.append(builder.next())
                history[builder.height] = builder
            }
            try note("ok \(store.head.height) \(store.head.id)")
        }
    }

    @Test func killedWritersRecoverToTheReplayOfTheirBlocks() async throws {
        let root = TemporaryDirectory("kill")
        defer { root.remove() }
        let directory = root.path + "/store"
        let marker = "\(Self.markerPrefix)\(getpid())"
        try writeFile(marker, Array(directory.utf8))
        defer { FileSystem.remove(marker) }
        var random = SeededGenerator(seed: 2024)
        for round in 0..<8 {
            let seen = journalLines(directory).count
            let child = try Subprocess.spawn("/proc/self/exe", ["--testing-library", "swift-testing", "--filter", "childWriter"],
                                             outputPath: root.path + "/child.log")
            // Let it recover and write a little (bounded), then kill it at a random instant.
            var waited = 0
            while journalLines(directory).count < seen + 4 && waited < 600 {
                try await Task.sleep(for: .milliseconds(50))
                waited += 1
            }
            try await Task.sleep(for: .microseconds(Int(random.next() % 150_000)))
            child.signal(SIGKILL)
            let status = child.wait()
            let log = (try? FileSystem.readFile(root.path + "/child.log")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            try #require(status == 128 + SIGKILL, "round \(round): the child exited \(status) before it was killed:\n\(log)")
            try verify(directory, round: round)
        }
        let store = try ChainStore(directory: directory, genesis: ChainBuilder.genesis, configuration: Self.configuration())
        defer { store.close() }
        #expect(store.head.height > 10, "the children made progress")
    }

    private func journalLines(_ directory: String) -> [Substring] {
        guard let bytes = try? FileSystem.readFile(directory + ".journal") else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n")
    }

    private func verify(_ directory: String, round: Int) throws {
        let store = try ChainStore(directory: directory, genesis: ChainBuilder.genesis, configuration: Self.configuration())
        defer { store.close() }
        let label = "round \(round): \(store.recovery)"
        #expect(StateDump(store.state) == StateDump(try replayReference(store)), "\(label)")
        #expect(store.state.heldSupply() == Amount.totalSupply, "\(label)")
        let undo = try store.undoHeights()
        #expect(undo.allSatisfy { $0 > store.finalHeight && $0 <= store.head.height }, "\(label): undo \(undo)")
        // The newest acknowledgement, and a revert that may have been under way after it.
        let lines = journalLines(directory)
        guard let last = lines.lastIndex(where: { $0.hasPrefix("ok ") }) else { return }
        let fields = lines[last].split(separator: " ")
        let height = UInt64(fields[1])!
        if let pending = lines[(last + 1)...].first, pending.hasPrefix("revert ") {
            #expect(store.head.height >= UInt64(pending.split(separator: " ")[1])!, "\(label)")
        } else {
            #expect(store.head.height >= height, "\(label): acknowledged \(lines[last])")
            if height > 0 { #expect(try store.block(at: height)?.id.description == String(fields[2]), "\(label)") }
        }
    }
}

extension ChainBuilder {
    /// A builder at block `height` of `store`, its state replayed from the genesis.
    init(replaying store: ChainStore, through height: UInt64, seed: UInt64) throws {
        self.init(seed: seed)
        for index in stride(from: 1, through: height, by: 1) {
            let block = try #require(try store.block(at: index))
            try machine.applyBlock(block, to: &state, parent: head)
            head = block.header
        }
    }
}
