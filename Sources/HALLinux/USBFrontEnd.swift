import HAL
import Logging
import Posix
import Synchronization

/// The radio front end on USB, named by the board profile's VID:PID, through libusb.
///
/// No device is a state: `probe()` returns `present == false` with a reason such as
/// `no USB device 05c6:9025 (libusb sees 0 USB devices; /dev/bus/usb is missing)`, and a
/// libusb that cannot start is a reason too, never a crash. `run` watches for arrival and
/// departure: through libusb's hot-plug callbacks where libusb has them (polled without
/// waiting every `eventInterval`; no extra thread), and by probing every `pollInterval`
/// in any case. A context that failed to start is retried at each poll.
public final class LibUSBFrontEnd: RadioFrontEnd {
    public let name: String
    public let vendorID: UInt16
    public let productID: UInt16
    /// Where Linux keeps the USB device nodes; only used to explain an empty bus.
    public let usbfsPath: String
    let pollInterval: Duration
    let eventInterval: Duration
    let logger: Logger

    private struct Core {
        var context: LibUSBContext?
        var hotplugArmed = false
        var lastStatus: FrontEndStatus?
    }

    private let core = Mutex(Core())
    /// Set by the hot-plug callback, taken by `run`.
    private let changed = ChangeFlag()

    public init(vendorID: UInt16, productID: UInt16, logger: Logger, pollInterval: Duration = .seconds(5),
                eventInterval: Duration = .milliseconds(250), usbfsPath: String = "/dev/bus/usb") {
        self.vendorID = vendorID
        self.productID = productID
        name = "usb \(FrontEndIdentity.usbID(vendorID, productID))"
        self.logger = logger
        self.pollInterval = pollInterval
        self.eventInterval = eventInterval
        self.usbfsPath = usbfsPath
    }

    /// Parses a board profile's `vvvv:pppp` (hex, as lsusb prints it).
    public static func parseUSBID(_ text: String) -> (vendor: UInt16, product: UInt16)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts.allSatisfy({ (1...4).contains($0.count) }),
              let vendor = UInt16(parts[0], radix: 16), let product = UInt16(parts[1], radix: 16) else { return nil }
        return (vendor, product)
    }

    public var capabilities: RadioFrontEndCapabilities {
        var capabilities: RadioFrontEndCapabilities = [.reset]
        if LibUSBContext.supportsHotplug { capabilities.insert(.hotPlug) }
        if let identity = core.withLock({ $0.lastStatus?.identity }), identity.product != nil || identity.serial != nil {
            capabilities.insert(.descriptorStrings)
        }
        return capabilities
    }

    public func probe() -> FrontEndStatus {
        core.withLock { c in
            let status = probe(&c)
            c.lastStatus = status
            return status
        }
    }

    public func reset() throws {
        try core.withLock { c throws(HALError) in
            let context = try startContext(&c)
            do throws(USBFailure) {
                try context.reset(vendor: vendorID, product: productID)
            } catch {
                let kind: HALError.Kind = error.description.hasPrefix("no USB device") ? .unavailable : .rejected
                throw HALError(kind, device: name, error.description)
            }
        }
        logger.notice("\(name): reset the radio front end")
    }

    public func run(events: @escaping BoardEventSink) async throws {
        var last = probe()
        report(last, previous: nil, events: events)
        var sincePoll = Duration.zero
        while !Task.isCancelled {
            let hotplug = core.withLock { c -> Bool in
                if !c.hotplugArmed, LibUSBContext.supportsHotplug, let context = c.context {
                    switch context.watch(vendor: vendorID, product: productID, onChange: { [changed] in changed.set() }) {
                    case .success: c.hotplugArmed = true
                    case .failure(let failure): logger.info("\(name): no hot-plug, polling instead: \(failure)")
                    }
                }
                if c.hotplugArmed { c.context?.handleEvents() }
                return c.hotplugArmed
            }
            let step = hotplug ? eventInterval : pollInterval
            if changed.take() || sincePoll >= pollInterval {
                sincePoll = .zero
                let now = probe()
                report(now, previous: last, events: events)
                last = now
            }
            do { try await Task.sleep(for: step) } catch { break }
            sincePoll += step
        }
    }

    // MARK: - Helpers

    /// Starts libusb if it is not running; throws `HALError(.unavailable)` saying why when it cannot.
    private func startContext(_ c: inout Core) throws(HALError) -> LibUSBContext {
        if let context = c.context { return context }
        switch LibUSBContext.open() {
        case .success(let context):
            c.context = context
            return context
        case .failure(let failure):
            throw HALError(.unavailable, device: name, "libusb \(LibUSBContext.version) cannot start: \(failure)")
        }
    }

    private func probe(_ c: inout Core) -> FrontEndStatus {
        let id = FrontEndIdentity.usbID(vendorID, productID)
        let context: LibUSBContext
        do {
            context = try startContext(&c)
        } catch {
            return FrontEndStatus(present: false, reason: "no USB device \(id): \(error.message)")
        }
        switch context.find(vendor: vendorID, product: productID, readStrings: true) {
        case .failure(let failure):
            return FrontEndStatus(present: false, reason: "no USB device \(id): \(failure)")
        case .success(nil):
            let count = context.deviceCount()
            var reason = "no USB device \(id) (libusb sees \(count) USB device\(count == 1 ? "" : "s")"
            if !FileSystem.exists(usbfsPath) { reason += "; \(usbfsPath) is missing" }
            return FrontEndStatus(present: false, reason: reason + ")")
        case .success(let found?):
            var notes: [String] = []
            if found.matching > 1 { notes.append("\(found.matching) devices match \(id); using the first") }
            if let problem = found.stringsProblem { notes.append("cannot read its descriptor strings: \(problem)") }
            return FrontEndStatus(present: true, identity: found.identity, reason: notes.isEmpty ? nil : notes.joined(separator: "; "))
        }
    }

    private func report(_ now: FrontEndStatus, previous: FrontEndStatus?, events: BoardEventSink) {
        if now.present, let identity = now.identity, previous?.present != true || previous?.identity != identity {
            logger.info("\(name): radio front end present at \(identity.location ?? "?")\(identity.product.map { " (\($0))" } ?? "")")
            events(.frontEndArrived(identity))
        } else if !now.present, previous == nil || previous?.present == true {
            let reason = now.reason ?? "no USB device \(FrontEndIdentity.usbID(vendorID, productID))"
            logger.warning("\(name): radio front end down: \(reason)")
            events(.frontEndGone(reason: reason))
        }
    }
}

/// A flag the hot-plug callback raises and the watch loop takes down.
private final class ChangeFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    func set() { raised.store(true, ordering: .relaxed) }
    func take() -> Bool { raised.exchange(false, ordering: .relaxed) }
}
