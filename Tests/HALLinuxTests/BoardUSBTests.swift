import HAL
@testable import HALLinux
import Logging
import Posix
import Testing

/// `LibUSBFrontEnd` with no front end plugged in (this machine, and CI containers, have none;
/// most have no `/dev/bus/usb` at all).
@Suite("LibUSBFrontEnd without a device")
struct BoardUSBTests {
    static let logger = Logger(label: "usb-test", level: .critical)

    @Test func probingWithNoDeviceSaysWhyAndDoesNotCrash() {
        let frontEnd = LibUSBFrontEnd(vendorID: 0x05c6, productID: 0x9025, logger: Self.logger)
        #expect(frontEnd.name == "usb 05c6:9025")
        let status = frontEnd.probe()
        #expect(!status.present)
        #expect(status.identity == nil)
        let reason = status.reason ?? ""
        #expect(reason.hasPrefix("no USB device 05c6:9025"), "reason: \(reason)")
        if !FileSystem.exists("/dev/bus/usb") { #expect(reason.contains("/dev/bus/usb is missing")) }
        #expect(frontEnd.probe() == status, "probing again is stable")
        #expect(frontEnd.capabilities.contains(.reset))
        #expect(!frontEnd.capabilities.contains(.descriptorStrings))
    }

    @Test func resetWithNoDeviceIsUnavailable() {
        let frontEnd = LibUSBFrontEnd(vendorID: 0x05c6, productID: 0x9025, logger: Self.logger)
        do {
            try frontEnd.reset()
            Issue.record("reset must fail without a device")
        } catch let error as HALError {
            #expect(error.kind == .unavailable)
            #expect(error.message.contains("05c6:9025"), "message: \(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func runReportsTheFrontEndGoneOnceAndStopsWhenCancelled() async throws {
        let frontEnd = LibUSBFrontEnd(vendorID: 0x05c6, productID: 0x9025, logger: Self.logger,
                                      pollInterval: .milliseconds(20), eventInterval: .milliseconds(5))
        let log = BoardEventLog()
        let watcher = Task { try await frontEnd.run(events: log.sink) }
        #expect(await log.wait { !$0.isEmpty })
        try await Task.sleep(for: .milliseconds(100))  // several polls
        watcher.cancel()
        let started = ContinuousClock.now
        try await watcher.value
        #expect(log.names == ["front-end-gone"])
        guard case .frontEndGone(let reason) = log.events.first else { return }
        #expect(reason.hasPrefix("no USB device 05c6:9025"))
    }

    @Test func parsesBoardProfileUSBIDs() {
        #expect(LibUSBFrontEnd.parseUSBID("05c6:9025")! == (0x05c6, 0x9025))
        #expect(LibUSBFrontEnd.parseUSBID("1D6B:2")! == (0x1d6b, 0x0002))
        #expect(LibUSBFrontEnd.parseUSBID("05c6") == nil)
        #expect(LibUSBFrontEnd.parseUSBID("05c6:90251") == nil)
        #expect(LibUSBFrontEnd.parseUSBID("zz:10") == nil)
        #expect(FrontEndIdentity.usbID(0x1d6b, 0x2) == "1d6b:0002")
    }
}
