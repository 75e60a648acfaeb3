import HAL
import Posix

/// The board's thermal zones from sysfs (`/sys/class/thermal`, or hal-sim's tree).
///
/// Each `thermal_zoneN` directory gives `type`, `temp` (millidegrees Celsius) and
/// `trip_point_K_temp` / `_type` / `_hyst`. A zone whose `temp` cannot be read or parsed is
/// reported with a problem naming the file and the reason (real sensors fail with EIO,
/// ENODATA or EAGAIN when the bus behind them does); it is never dropped.
public struct SysfsThermal: ThermalSensors {
    public let root: String

    public init(root: String = "/sys/class/thermal") {
        self.root = root
    }

    public var name: String { "thermal \(root)" }

    public func readZones() throws -> [ThermalReading] {
        let names: [String]
        do {
            names = try FileSystem.listDirectory(root)
        } catch {
            throw HALError(.unavailable, device: name, "cannot list thermal zones in \(root): \(error.errno)")
        }
        return names.filter { $0.hasPrefix("thermal_zone") }
            .sorted(by: Self.naturalOrder)
            .map(readZone)
    }

    /// One zone by its directory name, e.g. `thermal_zone0`.
    public func readZone(_ zone: String) -> ThermalReading {
        let directory = "\(root)/\(zone)"
        let type = try? SysfsText.read("\(directory)/type").get()
        var reading = ThermalReading(zone: zone, type: type, celsius: nil, tripPoints: readTrips(directory))
        switch SysfsText.read("\(directory)/temp") {
        case .success(let text):
            if let milli = Int64(text) {
                reading.celsius = Double(milli) / 1000
            } else {
                reading.problem = "\(directory)/temp: not a temperature: \(SysfsText.quoted(text))"
            }
        case .failure(let problem):
            reading.problem = problem.message
        }
        return reading
    }

    /// The zone's trip points in index order; unreadable or odd ones are left out.
    private func readTrips(_ directory: String) -> [ThermalTripPoint] {
        guard let names = try? FileSystem.listDirectory(directory) else { return [] }
        let indices = names.compactMap { name -> Int? in
            guard name.hasPrefix("trip_point_"), name.hasSuffix("_temp") else { return nil }
            return Int(name.dropFirst("trip_point_".count).dropLast("_temp".count))
        }
        return indices.sorted().compactMap { index in
            let base = "\(directory)/trip_point_\(index)"
            guard let text = try? SysfsText.read("\(base)_temp").get(), let milli = Int64(text) else { return nil }
            let type = try? SysfsText.read("\(base)_type").get()
            let hysteresis = (try? SysfsText.read("\(base)_hyst").get()).flatMap { Int64($0) }.map { Double($0) / 1000 }
            return ThermalTripPoint(index: index, celsius: Double(milli) / 1000, type: type, hysteresisCelsius: hysteresis)
        }
    }

    /// `thermal_zone2` before `thermal_zone10`.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let na = Int(a.drop { !$0.isNumber }), nb = Int(b.drop { !$0.isNumber })
        if let na, let nb, na != nb { return na < nb }
        return a < b
    }
}

/// Reads the small one-value text files of sysfs and procfs.
enum SysfsText {
    struct Problem: Error {
        let message: String
    }

    /// The file's text without surrounding white space, or a problem naming the path and the reason.
    static func read(_ path: String) -> Result<String, Problem> {
        do {
            let bytes = try FileSystem.readFile(path)
            return .success(trimmed(String(decoding: bytes, as: UTF8.self)))
        } catch {
            return .failure(Problem(message: "cannot read \(path): \(error.errno)"))
        }
    }

    static func trimmed(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        return String(text.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }

    /// Short, quoted, one line: for messages about bad content.
    static func quoted(_ text: String) -> String {
        let line = text.prefix(40).map { $0 == "\n" ? "⏎" : String($0) }.joined()
        return "'\(line)\(text.count > 40 ? "…" : "")'"
    }
}
