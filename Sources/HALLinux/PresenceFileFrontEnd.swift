import HAL
import Logging
import Posix

/// A radio front end known only by a file that exists while it is plugged in, holding its
/// `VVVV:PPPP` id: how hal-sim presents the front end (libusb cannot be emulated), and a
/// fallback for boards whose front end a udev rule announces with a file.
public final class PresenceFileFrontEnd: RadioFrontEnd {
    public let path: String
    private let pollInterval: Duration

    public init(path: String, pollInterval: Duration = .seconds(1)) {
        self.path = path
        self.pollInterval = pollInterval
    }

    public var name: String { "front end \(path)" }
    public var capabilities: RadioFrontEndCapabilities { [.hotPlug] }

    public func probe() -> FrontEndStatus {
        guard let bytes = try? FileSystem.readRegularFile(path, limit: 256) else {
            return FrontEndStatus(present: false, reason: "no front end (\(path) is absent)")
        }
        let text = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        let parts = text.split(separator: ":")
        guard parts.count == 2, let vendor = UInt16(parts[0], radix: 16), let product = UInt16(parts[1], radix: 16) else {
            return FrontEndStatus(present: true, reason: "\(path) does not hold a VVVV:PPPP id: '\(text)'")
        }
        return FrontEndStatus(present: true, identity: FrontEndIdentity(vendorID: vendor, productID: product, location: path))
    }

    public func reset() throws {
        throw HALError(.unsupported, device: name, "a presence file cannot be reset")
    }

    /// Reports arrivals and departures until cancelled.
    public func run(events: @escaping BoardEventSink) async throws {
        var last = probe()
        events(last.present ? .frontEndArrived(last.identity ?? FrontEndIdentity(vendorID: 0, productID: 0)) : .frontEndGone(reason: last.reason ?? "absent"))
        while !Task.isCancelled {
            try await Task.sleep(for: pollInterval)
            let now = probe()
            guard now.present != last.present else { continue }
            events(now.present ? .frontEndArrived(now.identity ?? FrontEndIdentity(vendorID: 0, productID: 0)) : .frontEndGone(reason: now.reason ?? "absent"))
            last = now
        }
    }
}
