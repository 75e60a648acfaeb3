import HAL
@testable import HALLinux
import Posix
import Testing

/// `LinuxWatchdog` against a plain file, as hal-sim emulates the device: the keepalive
/// ioctl fails with ENOTTY there, so every keepalive is a one-byte write.
@Suite("LinuxWatchdog")
struct BoardWatchdogTests {
    @Test func ioctlNumbersMatchLinuxWatchdogH() {
        #expect(WatchdogIoctl.keepalive == 0x8004_5705)
        #expect(WatchdogIoctl.setTimeout == 0xC004_5706)
        #expect(WatchdogIoctl.getTimeout == 0x8004_5707)
    }

    @Test func keepalivesAtTheTestsCadenceThenMagicCloseOnACleanStop() async throws {
        let scratch = BoardScratch("wdt")
        defer { scratch.remove() }
        scratch.write("watchdog", "")
        let watchdog = LinuxWatchdog(path: "\(scratch.path)/watchdog", timeoutSeconds: 10)
        #expect(watchdog.status.state == .stopped)

        try watchdog.start()
        #expect(watchdog.status.state == .armed)
        #expect(watchdog.status.timeoutSeconds == nil, "a plain file has no timeout to report")
        #expect(watchdog.status.problem == nil, "ENOTTY from WDIOC_SETTIMEOUT is not a problem")
        for tick in 1...5 {
            try watchdog.keepalive()
            #expect(scratch.read("watchdog") == String(repeating: "\n", count: tick))
            try await Task.sleep(for: .milliseconds(20))
        }
        let status = watchdog.status
        #expect(status.keepalives == 5)
        #expect(status.lastKeepaliveNanoseconds != nil)

        watchdog.stop(clean: true)
        #expect(scratch.read("watchdog") == String(repeating: "\n", count: 5) + "V")
        #expect(watchdog.status.state == .stopped)
        #expect(watchdog.status.disarmedOnStop == true)
        #expect(throws: HALError.self) { try watchdog.keepalive() }
    }

    @Test func anUncleanStopNeverWritesTheMagicCharacter() throws {
        let scratch = BoardScratch("wdt")
        defer { scratch.remove() }
        scratch.write("watchdog", "")
        let watchdog = LinuxWatchdog(path: "\(scratch.path)/watchdog")
        try watchdog.start()
        try watchdog.keepalive()
        try watchdog.keepalive()
        watchdog.stop(clean: false)
        #expect(scratch.read("watchdog") == "\n\n")
        #expect(!scratch.read("watchdog").contains("V"))
        #expect(watchdog.status.disarmedOnStop == false)
        watchdog.stop(clean: true)  // already closed: nothing more is written
        #expect(scratch.read("watchdog") == "\n\n")
    }

    @Test func droppingAnArmedWatchdogLeavesItArmedLikeACrash() throws {
        let scratch = BoardScratch("wdt")
        defer { scratch.remove() }
        scratch.write("watchdog", "")
        do {
            let watchdog = LinuxWatchdog(path: "\(scratch.path)/watchdog")
            try watchdog.start()
            try watchdog.keepalive()
        }
        #expect(scratch.read("watchdog") == "\n")
    }

    @Test func theKeepaliveLoopRunsUntilCancelled() async throws {
        let scratch = BoardScratch("wdt")
        defer { scratch.remove() }
        scratch.write("watchdog", "")
        let watchdog = LinuxWatchdog(path: "\(scratch.path)/watchdog")
        try watchdog.start()
        let loop = Task { await watchdog.keepAlive(every: .milliseconds(20)) }
        let deadline = ContinuousClock.now + .seconds(30)
        while watchdog.status.keepalives < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        loop.cancel()
        await loop.value
        let count = watchdog.status.keepalives
        #expect(count >= 4)
        watchdog.stop(clean: true)
        #expect(scratch.read("watchdog") == String(repeating: "\n", count: Int(count)) + "V")
    }

    @Test func aMissingDeviceIsAClearFailureNotACrash() {
        let watchdog = LinuxWatchdog(path: "/nonexistent/qlink/watchdog")
        do {
            try watchdog.start()
            Issue.record("start must fail")
        } catch let error as HALError {
            #expect(error.kind == .unavailable)
            #expect(error.message.contains("/nonexistent/qlink/watchdog"))
            #expect(error.message.contains("No such file"))
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(watchdog.status.state == .failed)
        #expect(watchdog.status.problem?.contains("cannot open watchdog") == true)
        watchdog.stop(clean: true)  // nothing open: harmless
    }
}
