import HAL
import Posix
import Synchronization

/// CPU load from procfs (`/proc`, or hal-sim's tree): the busy share from the `cpu` line of
/// `stat` between two samples, and pressure from `pressure/cpu` (PSI).
///
/// A kernel without PSI (or a `pressure/cpu` that cannot be read) gives a load with
/// `pressure == nil` and `pressureProblem` saying why; only an unreadable `stat` throws.
public final class ProcCPU: CPUMonitor {
    public let procRoot: String
    private let previous = Mutex<CPUTimes?>(nil)

    public init(procRoot: String = "/proc") {
        self.procRoot = procRoot
    }

    public var name: String { "cpu \(procRoot)" }

    public func sample() throws -> CPULoad {
        let statPath = "\(procRoot)/stat"
        let times: CPUTimes
        switch SysfsText.read(statPath) {
        case .success(let text):
            guard let parsed = CPUTimes(procStat: text) else {
                throw HALError(.protocolViolation, device: name, "\(statPath) has no readable 'cpu' line")
            }
            times = parsed
        case .failure(let problem):
            throw HALError(.unavailable, device: name, problem.message)
        }
        let before = previous.withLock { p in defer { p = times }; return p }
        var load = CPULoad(busyFraction: before.flatMap { times.busyFraction(since: $0) }, pressure: nil)
        let pressurePath = "\(procRoot)/pressure/cpu"
        switch SysfsText.read(pressurePath) {
        case .success(let text):
            load.pressure = CPUPressure(psi: text)
            if load.pressure == nil { load.pressureProblem = "\(pressurePath): no 'some' line in \(SysfsText.quoted(text))" }
        case .failure(let problem):
            load.pressureProblem = problem.message
        }
        return load
    }
}

/// The aggregate `cpu` line of `/proc/stat`, in clock ticks since boot.
struct CPUTimes: Hashable, Sendable {
    var user: UInt64, nice: UInt64, system: UInt64, idle: UInt64
    var iowait: UInt64, irq: UInt64, softirq: UInt64, steal: UInt64

    init(user: UInt64, nice: UInt64, system: UInt64, idle: UInt64, iowait: UInt64 = 0, irq: UInt64 = 0, softirq: UInt64 = 0, steal: UInt64 = 0) {
        (self.user, self.nice, self.system, self.idle) = (user, nice, system, idle)
        (self.iowait, self.irq, self.softirq, self.steal) = (iowait, irq, softirq, steal)
    }

    /// Parses the first line starting `cpu ` (all CPUs together). Fields after `steal`
    /// (guest, guest_nice) are already counted in user and nice and are ignored; old kernels
    /// with fewer than 8 fields give zeros for the missing ones. Nil without at least 4 numbers.
    init?(procStat text: String) {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        var values: [UInt64] = []
        for field in line.split(separator: " ").dropFirst() {
            guard let value = UInt64(field) else { return nil }
            values.append(value)
        }
        guard values.count >= 4 else { return nil }
        values += [UInt64](repeating: 0, count: max(0, 8 - values.count))
        self.init(user: values[0], nice: values[1], system: values[2], idle: values[3],
                  iowait: values[4], irq: values[5], softirq: values[6], steal: values[7])
    }

    var total: UInt64 { user &+ nice &+ system &+ idle &+ iowait &+ irq &+ softirq &+ steal }
    /// Idle time, counting waiting for I/O as idle (the CPU could have run something).
    var idleTotal: UInt64 { idle &+ iowait }

    /// The busy share of the time between `earlier` and this sample; nil when no time
    /// passed or a counter went backwards (iowait may, on some kernels: then it is left out).
    func busyFraction(since earlier: CPUTimes) -> Double? {
        guard total > earlier.total else { return nil }
        let elapsed = total - earlier.total
        let idleNow = idle >= earlier.idle ? idle - earlier.idle : 0
        let waitNow = iowait >= earlier.iowait ? iowait - earlier.iowait : 0
        let idleDelta = min(elapsed, idleNow + waitNow)
        return Double(elapsed - idleDelta) / Double(elapsed)
    }
}

extension CPUPressure {
    /// Parses `/proc/pressure/cpu`:
    /// `some avg10=1.23 avg60=0.50 avg300=0.10 total=12345` and (since 5.13) a `full` line.
    /// Nil when the `some` line is missing or malformed.
    init?(psi text: String) {
        var lines: [Substring: [Substring: Double]] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let kind = words.first else { continue }
            var fields: [Substring: Double] = [:]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1)
                if pair.count == 2, let value = Double(pair[1]) { fields[pair[0]] = value }
            }
            lines[kind] = fields
        }
        guard let some = lines["some"], let avg10 = some["avg10"], let avg60 = some["avg60"], let avg300 = some["avg300"] else { return nil }
        self.init(someAvg10: avg10, someAvg60: avg60, someAvg300: avg300, fullAvg10: lines["full"]?["avg10"])
    }
}
