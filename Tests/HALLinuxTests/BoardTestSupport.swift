import HAL
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp for one board test; `remove()` deletes it and everything in it.
struct BoardScratch {
    let path: String

    init(_ prefix: String) {
        var template = Array("/tmp/qlt-\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func write(_ relative: String, _ text: String) {
        let full = "\(path)/\(relative)"
        try! FileSystem.createDirectory(FileSystem.parent(of: full))
        let fd = try! FileDescriptor.open(full, [.writeOnly, .create, .truncate])
        try! fd.writeAll(Array(text.utf8))
        fd.close()
    }

    func read(_ relative: String) -> String {
        String(decoding: (try? FileSystem.readFile("\(path)/\(relative)")) ?? [], as: UTF8.self)
    }

    func makeDirectory(_ relative: String) {
        try! FileSystem.createDirectory("\(path)/\(relative)")
    }

    func removeItem(_ relative: String) {
        Self.removeTree("\(path)/\(relative)")
    }

    func remove() { Self.removeTree(path) }

    private static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in (try? FileSystem.listDirectory(path)) ?? [] { removeTree("\(path)/\(name)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Collects a board backend's events for assertions.
final class BoardEventLog: Sendable {
    private let storage = Mutex<[BoardEvent]>([])

    var sink: BoardEventSink { { [self] event in storage.withLock { $0.append(event) } } }
    var events: [BoardEvent] { storage.withLock { $0 } }
    var names: [String] { events.map(\.name) }

    /// Polls until `condition` holds on the events (true) or `timeout` passes (false).
    func wait(timeout: Duration = .seconds(30), _ condition: ([BoardEvent]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(events) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(events)
    }
}
