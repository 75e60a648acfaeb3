import CLibUSB
import HAL
import Synchronization

/// A libusb failure, in words that name the call and the error.
struct USBFailure: Error, CustomStringConvertible {
    let description: String

    init(_ call: String, _ code: Int32) {
        let name = libusb_error_name(code).map { String(cString: $0) } ?? "\(code)"
        let text = libusb_strerror(code).map { String(cString: $0) } ?? ""
        description = "\(call) failed: \(name)\(text.isEmpty ? "" : " (\(text))")"
    }

    init(message: String) { description = message }

    var isNotFound: Bool { description.contains("LIBUSB_ERROR_NOT_FOUND") || description.contains("LIBUSB_ERROR_NO_DEVICE") }
}

/// What a probe found: the identity of the first matching device, and what could not be read.
struct USBFound: Sendable {
    var identity: FrontEndIdentity
    /// Why the descriptor strings are missing (e.g. no permission to open the device).
    var stringsProblem: String?
    var matching: Int
}

/// One libusb context: device lookup by VID:PID, descriptor strings, reset, and hot-plug
/// notifications. The only file of the USB backend that touches C. Not thread-safe by
/// itself: `LibUSBFrontEnd` serializes every call.
final class LibUSBContext: @unchecked Sendable {
    private let context: OpaquePointer
    private var hotplugHandle: libusb_hotplug_callback_handle?
    private var hotplugBox: Unmanaged<HotplugBox>?

    private init(context: OpaquePointer) {
        self.context = context
    }

    /// Initializes libusb (which fails in containers without usbfs on some builds).
    static func open() -> Result<LibUSBContext, USBFailure> {
        var context: OpaquePointer?
        let code = libusb_init(&context)
        guard code == 0, let context else { return .failure(USBFailure("libusb_init", code)) }
        return .success(LibUSBContext(context: context))
    }

    deinit {
        if let hotplugHandle { libusb_hotplug_deregister_callback(context, hotplugHandle) }
        hotplugBox?.release()
        libusb_exit(context)
    }

    /// Whether this libusb can report arrivals and departures (Linux with udev or netlink: yes).
    static var supportsHotplug: Bool { libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0 }

    /// libusb's own version, e.g. `1.0.26`.
    static var version: String {
        guard let v = libusb_get_version()?.pointee else { return "?" }
        return "\(v.major).\(v.minor).\(v.micro)"
    }

    /// Finds the first device with `vendor:product`; nil (with the number of USB devices seen) when none.
    func find(vendor: UInt16, product: UInt16, readStrings: Bool) -> Result<USBFound?, USBFailure> {
        withDevices { devices in
            var found: USBFound?
            for device in devices {
                var descriptor = libusb_device_descriptor()
                guard libusb_get_device_descriptor(device, &descriptor) == 0,
                      descriptor.idVendor == vendor, descriptor.idProduct == product else { continue }
                if found != nil { found?.matching += 1; continue }
                var identity = FrontEndIdentity(vendorID: vendor, productID: product, location: location(of: device))
                var problem: String?
                if readStrings {
                    var handle: OpaquePointer?
                    let code = libusb_open(device, &handle)
                    if code == 0, let handle {
                        identity.manufacturer = string(handle, descriptor.iManufacturer)
                        identity.product = string(handle, descriptor.iProduct)
                        identity.serial = string(handle, descriptor.iSerialNumber)
                        libusb_close(handle)
                    } else {
                        problem = USBFailure("libusb_open", code).description
                    }
                }
                found = USBFound(identity: identity, stringsProblem: problem, matching: 1)
            }
            return found
        }
    }

    /// How many USB devices libusb sees at all (for messages).
    func deviceCount() -> Int {
        (try? withDevices { $0.count }.get()) ?? 0
    }

    /// Resets the first `vendor:product` device (it re-enumerates; libusb then says NOT_FOUND,
    /// which is success). Throws when there is no such device or it cannot be opened.
    func reset(vendor: UInt16, product: UInt16) throws(USBFailure) {
        let id = FrontEndIdentity.usbID(vendor, product)
        let outcome: Result<USBFailure?, USBFailure> = withDevices { devices in
            for device in devices {
                var descriptor = libusb_device_descriptor()
                guard libusb_get_device_descriptor(device, &descriptor) == 0,
                      descriptor.idVendor == vendor, descriptor.idProduct == product else { continue }
                var handle: OpaquePointer?
                let code = libusb_open(device, &handle)
                guard code == 0, let handle else { return USBFailure("libusb_open \(id)", code) }
                defer { libusb_close(handle) }
                let reset = libusb_reset_device(handle)
                if reset == 0 || reset == Int32(LIBUSB_ERROR_NOT_FOUND.rawValue) { return nil }
                return USBFailure("libusb_reset_device \(id)", reset)
            }
            return USBFailure(message: "no USB device \(id) to reset")
        }
        if let failure = try outcome.get() { throw failure }
    }

    /// Asks libusb to call `onChange` when a `vendor:product` device arrives or leaves. The
    /// call happens inside `handleEvents`, on the caller's thread.
    func watch(vendor: UInt16, product: UInt16, onChange: @escaping @Sendable () -> Void) -> Result<Void, USBFailure> {
        guard hotplugHandle == nil else { return .success(()) }
        let box = Unmanaged.passRetained(HotplugBox(onChange))
        let events = Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED.rawValue | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue)
        var handle: libusb_hotplug_callback_handle = 0
        let code = libusb_hotplug_register_callback(context, events, 0, Int32(vendor), Int32(product), LIBUSB_HOTPLUG_MATCH_ANY,
                                                    { _, _, _, user in
                                                        if let user { Unmanaged<HotplugBox>.fromOpaque(user).takeUnretainedValue().call() }
                                                        return 0
                                                    }, box.toOpaque(), &handle)
        guard code == 0 else {
            box.release()
            return .failure(USBFailure("libusb_hotplug_register_callback", code))
        }
        hotplugHandle = handle
        hotplugBox = box
        return .success(())
    }

    /// Runs whatever libusb has pending (hot-plug callbacks) without waiting.
    func handleEvents() {
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        _ = libusb_handle_events_timeout_completed(context, &zero, nil)
    }

    // MARK: - Helpers

    private func withDevices<T>(_ body: ([OpaquePointer]) -> T) -> Result<T, USBFailure> {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(context, &list)
        guard count >= 0, let list else { return .failure(USBFailure("libusb_get_device_list", Int32(truncatingIfNeeded: count))) }
        defer { libusb_free_device_list(list, 1) }
        let devices = (0..<Int(count)).compactMap { list[$0] }
        return .success(body(devices))
    }

    private func location(of device: OpaquePointer) -> String {
        var ports = [UInt8](repeating: 0, count: 8)
        let n = libusb_get_port_numbers(device, &ports, Int32(ports.count))
        let bus = libusb_get_bus_number(device)
        guard n > 0 else { return "usb \(bus) address \(libusb_get_device_address(device))" }
        return "usb \(bus)-" + ports.prefix(Int(n)).map(String.init).joined(separator: ".")
    }

    private func string(_ handle: OpaquePointer, _ index: UInt8) -> String? {
        guard index != 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = libusb_get_string_descriptor_ascii(handle, index, &buffer, Int32(buffer.count))
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(Int(n)), as: UTF8.self)
    }
}

/// Carries the hot-plug closure through libusb's `void *user_data`.
private final class HotplugBox: Sendable {
    let call: @Sendable () -> Void
    init(_ call: @escaping @Sendable () -> Void) { self.call = call }
}
