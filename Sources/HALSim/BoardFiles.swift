import Logging
import Posix
import Synchronization

/// The board's files under hal-sim's root, where qlinkd's Linux board backend is pointed:
///
/// - `DIR/dev/watchdog`: a plain file standing in for the watchdog device (created empty;
///   hal-sim only reads it, every tick);
/// - `DIR/sys/class/thermal/thermal_zone{0,1}/{type,temp,trip_point_0_temp,trip_point_0_type}`,
///   millidegrees Celsius; `temp` is replaced atomically (a temporary file renamed over it), so
///   a reader never sees a partial number;
/// - `DIR/frontend/present`: `05c6:9025\n` while the radio front end is plugged in, absent
///   while unplugged (libusb cannot be emulated; the daemon's sim board profile reads this).
public final class BoardFiles: Sendable {
    /// The front end's USB vendor:product id (Qualcomm).
    public static let frontendID = "05c6:9025"

    public let root: String
    public var watchdogPath: String { "\(root)/dev/watchdog" }
    public var thermalRoot: String { "\(root)/sys/class/thermal" }
    public var frontendPath: String { "\(root)/frontend/present" }
    private let world: World
    private let logger: Logger
    /// What each file was last written with (nil: removed).
    private let written = Mutex<[String: String?]>([:])

    public init(root: String, world: World, logger: Logger) {
        self.root = root
        self.world = world
        self.logger = logger
    }

    /// Creates the directories, an empty watchdog file and the zones' fixed files, then
    /// writes the current state.
    public func create() throws(SystemError) {
        try FileSystem.createDirectory("\(root)/dev")
        try FileSystem.createDirectory("\(root)/frontend")
        let fd = try FileDescriptor.open(watchdogPath, [.writeOnly, .create, .truncate], mode: 0o600)
        fd.close()
        for zone in world.board().zones {
            let directory = "\(thermalRoot)/\(zone.name)"
            try FileSystem.createDirectory(directory)
            try write("\(directory)/type", zone.type + "\n")
            try write("\(directory)/trip_point_0_temp", "\(zone.tripMilliCelsius)\n")
            try write("\(directory)/trip_point_0_type", zone.tripType + "\n")
        }
        try sync()
    }

    /// Looks at the watchdog file and brings the thermal and front-end files up to date.
    public func sync() throws(SystemError) {
        let stamp = statFile(watchdogPath)
        let content = stamp == nil ? [] : ((try? FileSystem.readFile(watchdogPath)) ?? [])
        world.observeWatchdog(stamp, content: content)
        let board = world.board()
        for zone in board.zones {
            try write("\(thermalRoot)/\(zone.name)/temp", "\(zone.milliCelsius)\n")
        }
        try write(frontendPath, board.frontendPresent ? Self.frontendID + "\n" : nil)
    }

    /// Replaces `path` with `content` atomically (nil removes it), when it changed.
    private func write(_ path: String, _ content: String?) throws(SystemError) {
        guard written.withLock({ $0[path] }) != .some(content) else { return }
        if let content {
            let directory = FileSystem.parent(of: path)
            let name = path.dropFirst(directory.count + 1)
            let temporary = "\(directory)/.\(name).tmp"
            let fd = try FileDescriptor.open(temporary, [.writeOnly, .create, .truncate], mode: 0o644)
            do { try fd.writeAll(Array(content.utf8)) } catch { fd.close(); FileSystem.remove(temporary); throw error }
            fd.close()
            try FileSystem.move(temporary, to: path)
        } else {
            FileSystem.remove(path)
        }
        written.withLock { $0[path] = .some(content) }
    }
}
