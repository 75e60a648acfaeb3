@testable import ChainStore
import ChainTestSupport
import Crypto
import Ledger
import Posix
import Testing

/// Crashes simulated in-process: at every step of a write where a crash is interesting
/// (`CrashPoint`), the store's files are copied as a `kill -9` there would leave them;
/// variants then cut the log inside the records being written (a torn append) or cut
/// or delete the SQLite WAL (commits lost, as a power cut with `synchronous=NORMAL`
/// may). Each image is opened and must equal the replay of the blocks it stores.
struct CrashSimulation {
    /// One crash image: the directory, and what had been acknowledged when it was taken.
    struct Image {
        var path: String
        var point: CrashPoint
        /// Head and log size acknowledged durable before the operation in progress.
        var acknowledged: ChainTip
        var syncedLogBytes: Int
    }

    final class Recorder {
        let root: String
        var images: [Image] = []
        var acknowledged = ChainTip(height: 0, id: .none)
        var syncedLogBytes = 0
        var random: SeededGenerator

        init(root: String, seed: UInt64) {
            self.root = root
            random = SeededGenerator(seed: seed)
        }

        func capture(_ point: CrashPoint) {
            guard random.next() % 3 == 0 || point != .stateCommitted else { return }
            let path = "\(root)/image-\(images.count)"
            try! copyTree("\(root)/live", path)
            images.append(Image(path: path, point: point, acknowledged: acknowledged, syncedLogBytes: syncedLogBytes))
        }
    }

    @Test func everyCrashImageRecoversToTheReplayOfItsBlocks() throws {
        let root = TemporaryDirectory("crashsim")
        defer { root.remove() }
        let recorder = Recorder(root: root.path, seed: 11)
        var configuration = testConfiguration(snapshotInterval: 9, segmentBytes: 6000)
        configuration.database.walAutocheckpointPages = 16
        let directory = "\(root.path)/live"
        var store = try ChainStore(directory: directory, genesis: ChainBuilder.genesis, configuration: configuration,
                                   verifier: nil, crashPoint: recorder.capture)
        var builder = ChainBuilder(seed: 12)
        var history: [UInt64: ChainBuilder] = [0: builder]
        var random = SeededGenerator(seed: 13)
        for step in 0..<70 {
            if step % 20 == 19 {
                // A power cut (state commits since the last checkpoint lost with the WAL),
                // then a restart whose recovery is itself crashed at every commit.
                let crashed = "\(root.path)/crashed"
                try copyTree(directory, crashed)
                FileSystem.remove("\(crashed)/state.db-wal")
                FileSystem.remove("\(crashed)/state.db-shm")
                store.close()
                removeTree(directory)
                try copyTree(crashed, directory)
                removeTree(crashed)
                store = try ChainStore(directory: directory, genesis: ChainBuilder.genesis, configuration: configuration,
                                       verifier: nil, crashPoint: recorder.capture)
                #expect(store.head == recorder.acknowledged, "\(store.recovery)")
                continue
            }
            switch random.next() % 8 {
            case 0:
                let batch = (0..<3).map { _ in
                    let block = builder.next()
                    history[builder.height] = builder
                    return block
                }
                try store.append(contentsOf: batch)
            case 1 where store.head.height > store.finalHeight + 2:
                try store.markFinal(store.head.height - 2)
            case 2 where store.head.height >= store.finalHeight + 2:
                let target = store.head.height - 2
                try store.revert(to: target)
                builder = history[target]!
                builder.random = SeededGenerator(seed: 1000 + UInt64(step))
            default:
                try store.append(builder.next())
            }
            history[builder.height] = builder
            recorder.acknowledged = store.head
            recorder.syncedLogBytes = try segmentPaths(directory).map(fileSize).reduce(0, +)
        }
        store.close()
        #expect(recorder.images.count > 30)
        #expect(recorder.images.contains { $0.point == .replayCommitted })

        var checked = 0
        var repairs = (cut: 0, reverted: 0, replayed: 0)
        for (index, image) in recorder.images.enumerated() {
            for variant in 0..<3 {
                let path = "\(image.path)-v\(variant)"
                try copyTree(image.path, path)
                switch variant {
                case 1: try tearLogTail(path, syncedBytes: image.syncedLogBytes, random: &random)
                case 2: try damageWAL(path, random: &random)
                default: break
                }
                let report = try check(path, image: image, index: index, variant: variant)
                if report.truncatedLogBytes > 0 { repairs.cut += 1 }
                if report.revertedBlocks > 0 { repairs.reverted += 1 }
                if report.replayedBlocks > 0 { repairs.replayed += 1 }
                removeTree(path)
                checked += 1
            }
        }
        #expect(checked == recorder.images.count * 3)
        // Every repair path ran: torn tails cut, state ahead of the log undone, replays.
        #expect(repairs.cut > 5 && repairs.reverted > 0 && repairs.replayed > 5, "\(repairs) of \(checked)")
    }

    /// Cuts the last segment somewhere after the bytes acknowledged durable, as a crash
    /// in the middle of the append's write would.
    private func tearLogTail(_ path: String, syncedBytes: Int, random: inout SeededGenerator) throws {
        let segments = try segmentPaths(path)
        guard let last = segments.last else { return }
        let before = segments.dropLast().map(fileSize).reduce(0, +)
        let size = fileSize(last)
        let floor = max(0, syncedBytes - before)
        guard size > floor else { return }
        try truncateFile(last, to: floor + Int(random.next() % UInt64(size - floor)))
    }

    /// Cuts the WAL at a random byte after its checkpointed frames, or deletes it:
    /// committed transactions not yet checkpointed are lost, as a power cut may lose
    /// them under `synchronous=NORMAL`. (Frames up to the wal-index's nBackfill were
    /// fsynced before the checkpoint copied them into the database, so no crash can
    /// lose those alone; deleting the whole WAL leaves the checkpointed state.)
    private func damageWAL(_ path: String, random: inout SeededGenerator) throws {
        let wal = "\(path)/state.db-wal"
        let shm = try? FileSystem.readFile("\(path)/state.db-shm")
        FileSystem.remove("\(path)/state.db-shm")
        guard FileSystem.exists(wal) else { return }
        let bytes = try FileSystem.readFile(wal)
        var floor = 0
        if let shm, shm.count >= 100, bytes.count >= 32 {
            let backfilled = shm.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 96, as: UInt32.self)) }
            let pageSize = bytes[8..<12].reduce(0) { $0 << 8 | Int($1) }
            floor = backfilled == 0 ? 0 : 32 + backfilled * (24 + pageSize)
        }
        if random.next() % 4 == 0 || bytes.count <= floor {
            FileSystem.remove(wal)
        } else {
            try truncateFile(wal, to: floor + Int(random.next() % UInt64(bytes.count - floor)))
        }
    }

    private func check(_ path: String, image: Image, index: Int, variant: Int) throws -> RecoveryReport {
        let label = "image \(index) at \(image.point), variant \(variant)"
        let configuration = testConfiguration(snapshotInterval: 9, segmentBytes: 6000)
        let store = try ChainStore(directory: path, genesis: ChainBuilder.genesis, configuration: configuration)
        defer { store.close() }
        let reference = try replayReference(store)
        #expect(StateDump(store.state) == StateDump(reference), "\(label): \(store.recovery)")
        #expect(store.state.heldSupply() == Amount.totalSupply, "\(label)")
        let undo = try store.undoHeights()
        #expect(undo.allSatisfy { $0 > store.finalHeight && $0 <= store.head.height }, "\(label): undo \(undo)")
        if image.point != .revertCommitted && image.point != .logTruncated {
            #expect(store.head.height >= image.acknowledged.height, "\(label): head \(store.head) < \(image.acknowledged)")
            if image.acknowledged.height > 0 {
                #expect(try store.block(at: image.acknowledged.height)?.id == image.acknowledged.id, "\(label)")
            }
        }
        // The head block is whatever the log's last whole block is: reopening changes nothing.
        let head = store.head
        store.close()
        let again = try ChainStore(directory: path, genesis: ChainBuilder.genesis, configuration: configuration)
        defer { again.close() }
        #expect(again.head == head && again.recovery.isClean && again.recovery.replayedBlocks == 0,
                "\(label): second open \(again.recovery)")
        return store.recovery
    }
}
