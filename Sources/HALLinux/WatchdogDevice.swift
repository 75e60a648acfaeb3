import HAL
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The Linux watchdog device (`/dev/watchdog`, or any path from the config).
///
/// `start` opens it write-only, which arms the timer, and optionally sets its timeout.
/// `keepalive` sends `WDIOC_KEEPALIVE`; when the path is a plain file (hal-sim's emulation)
/// the ioctl fails with ENOTTY and a newline is written instead — any write is a keepalive
/// to a real driver too. `stop(clean: true)` writes the magic `V` and closes, which disarms
/// the timer; `stop(clean: false)` only closes, so the board still resets unless something
/// keeps it alive (a crash leaves it armed the same way: the kernel closes without `V`).
///
/// The only file of the board backends that makes C calls (ioctl, through Glibc).
public final class LinuxWatchdog: HardwareWatchdog {
    public let path: String
    /// The reset timeout to ask for on start (WDIOC_SETTIMEOUT), if any.
    public let requestedTimeoutSeconds: Int?

    fileprivate struct Core {
        var fd: FileDescriptor?
        /// Keepalives go by `write` (the device is not a real watchdog driver).
        var writesKeepalives = false
        var status: WatchdogStatus
    }

    private let core: Mutex<Core>

    public init(path: String = "/dev/watchdog", timeoutSeconds: Int? = nil) {
        self.path = path
        requestedTimeoutSeconds = timeoutSeconds
        core = Mutex(Core(status: WatchdogStatus(state: .stopped, device: path)))
    }

    deinit {
        // Dropped without a stop: leave the timer armed, as a crash would.
        core.withLock { c in c.fd?.close() }
    }

    public var status: WatchdogStatus { core.withLock { $0.status } }

    /// Opens and arms the device. Throws `HALError(.unavailable)` naming the path and the
    /// reason when it cannot be opened; calling it while armed does nothing.
    public func start() throws {
        try core.withLock { c throws(HALError) in
            if c.fd != nil { return }
            let fd: FileDescriptor
            do throws(SystemError) {
                fd = try FileDescriptor.open(path, .writeOnly)
            } catch {
                let message = "cannot open watchdog \(path): \(error.errno)"
                c.status.state = .failed
                c.status.problem = message
                throw HALError(.unavailable, device: path, message)
            }
            c.fd = fd
            c.writesKeepalives = false
            c.status = WatchdogStatus(state: .armed, device: path, keepalives: c.status.keepalives)
            if let requested = requestedTimeoutSeconds {
                var value = Int32(clamping: requested)
                if ioctl(fd.rawValue, WatchdogIoctl.setTimeout, &value) == 0 {
                    c.status.timeoutSeconds = Int(value)
                } else if errno != ENOTTY {
                    c.status.problem = "WDIOC_SETTIMEOUT \(requested) s refused: \(Errno.current)"
                }
            }
            if c.status.timeoutSeconds == nil {
                var value: Int32 = 0
                if ioctl(fd.rawValue, WatchdogIoctl.getTimeout, &value) == 0 { c.status.timeoutSeconds = Int(value) }
            }
        }
    }

    /// Tells the device the board is alive. Throws `HALError(.unavailable)` when not started
    /// or when the device refuses (the status then says why).
    public func keepalive() throws {
        try core.withLock { c throws(HALError) in
            guard let fd = c.fd else {
                throw HALError(.unavailable, device: path, "watchdog \(path) is not open (start it first)")
            }
            if !c.writesKeepalives {
                var ignored: Int32 = 0
                if ioctl(fd.rawValue, WatchdogIoctl.keepalive, &ignored) == 0 {
                    c.recordKeepalive()
                    return
                }
                let error = Errno.current
                guard error.rawValue == ENOTTY else {
                    throw c.fail("WDIOC_KEEPALIVE on \(path) failed: \(error)", device: path)
                }
                // A plain file (or a driver without the ioctl): keep it alive by writing.
                c.writesKeepalives = true
            }
            do throws(SystemError) {
                try fd.writeAll([UInt8(ascii: "\n")])
            } catch {
                throw c.fail("keepalive write to \(path) failed: \(error.errno)", device: path)
            }
            c.recordKeepalive()
        }
    }

    /// Closes the device; only `clean` writes the magic `V` first, disarming the timer.
    public func stop(clean: Bool) {
        core.withLock { c in
            guard let fd = c.fd else { return }
            var disarmed = false
            if clean {
                do throws(SystemError) {
                    try fd.writeAll([UInt8(ascii: "V")])
                    disarmed = true
                } catch {
                    c.status.problem = "magic close of \(path) failed: \(error.errno); the watchdog stays armed"
                }
            }
            fd.close()
            c.fd = nil
            c.status.state = .stopped
            c.status.disarmedOnStop = disarmed
        }
    }
}

extension LinuxWatchdog {
    /// Sends a keepalive every `interval` until the task is cancelled; returns normally then,
    /// leaving the device open for the caller's `stop(clean:)`. A failed keepalive is
    /// retried at the next tick (the status says why); it never ends the loop.
    public func keepAlive(every interval: Duration, onFailure: @Sendable (HALError) -> Void = { _ in }) async {
        while !Task.isCancelled {
            do { try keepalive() } catch let error as HALError { onFailure(error) } catch {}
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}

extension LinuxWatchdog.Core {
    fileprivate mutating func recordKeepalive() {
        status.keepalives += 1
        status.lastKeepaliveNanoseconds = SystemClock.monotonicNanoseconds()
        status.state = .armed
        status.problem = nil
    }

    fileprivate mutating func fail(_ message: String, device: String) -> HALError {
        status.state = .failed
        status.problem = message
        return HALError(.unavailable, device: device, message)
    }
}

/// The watchdog ioctl numbers from `<linux/watchdog.h>`, which Swift cannot import (they are
/// `_IOR`/`_IOWR` macros): `_IOC(dir, 'W', nr, sizeof(int))` = dir << 30 | 4 << 16 | 'W' << 8 | nr.
enum WatchdogIoctl {
    static func make(direction: UInt, _ number: UInt) -> UInt {
        direction << 30 | UInt(MemoryLayout<Int32>.size) << 16 | UInt(UInt8(ascii: "W")) << 8 | number
    }

    /// `_IOR('W', 5, int)`
    static let keepalive = make(direction: 2, 5)
    /// `_IOWR('W', 6, int)`
    static let setTimeout = make(direction: 3, 6)
    /// `_IOR('W', 7, int)`
    static let getTimeout = make(direction: 2, 7)
}
