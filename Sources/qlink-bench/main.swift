#if canImport(Glibc)
import Glibc
#endif
import Ledger
import Metering
import Posix

// `make bench`: one JSON object per line, one line per benchmark; every key is unique
// across all lines so results can be merged into one record.

var arguments = CommandLine.arguments.dropFirst()[...]
var binDirectory = ".build/release"
var rssSeconds = 60
while let argument = arguments.popFirst() {
    switch argument {
    case "--bin": binDirectory = arguments.popFirst() ?? binDirectory
    case "--rss-seconds": rssSeconds = arguments.popFirst().flatMap { Int($0) } ?? rssSeconds
    default:
        print("usage: qlink-bench [--bin DIR] [--rss-seconds N]")
        exit(64)
    }
}

func emit(_ fields: KeyValuePairs<String, String>) {
    print("{" + fields.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}")
}

func temporaryDirectory() -> String {
    var template = Array("/tmp/qlink-bench-XXXXXX".utf8CString)
    return String(cString: mkdtemp(&template)!)
}

/// Size of qlinkd once stripped, as it would ship (static Swift stdlib).
func strippedSize(of binary: String, in scratch: String) throws -> Int {
    let copy = "\(scratch)/qlinkd.stripped"
    try FileSystem.writeDurably(copy, FileSystem.readFile(binary), mode: 0o755)
    let status = try Subprocess.spawn("/usr/bin/strip", [copy]).wait()
    guard status == 0 else { throw SystemError(.invalidArgument, "strip exited \(status)") }
    return try FileSystem.readFile(copy).count
}

/// Resident memory of qlinkd after `seconds` on busy-day with 64 subscribers.
func residentAfterBusyDay(seconds: Int, in scratch: String, binDirectory: String) throws -> Int {
    let root = "\(scratch)/sim"
    let sim = try Subprocess.spawn("\(binDirectory)/hal-sim", ["--root", root, "--scenario", "busy-day", "--subscribers", "64", "--speed", "60"],
                                   outputPath: "\(scratch)/hal-sim.log")
    defer { sim.signal(SIGTERM); sim.wait() }
    var waited = 0
    while !FileSystem.exists("\(root)/ready") && waited < 300 { usleep(100_000); waited += 1 }
    guard FileSystem.exists("\(root)/ready") else { throw SystemError(.timedOut, "hal-sim did not start (see \(scratch)/hal-sim.log)") }
    let daemon = try Subprocess.spawn("\(binDirectory)/qlinkd", ["--config", "\(root)/qlinkd.conf"], outputPath: "\(scratch)/qlinkd.log")
    defer { daemon.signal(SIGTERM); daemon.wait() }
    sleep(UInt32(seconds))
    guard let rss = ProcessInfo.residentKilobytes(pid: daemon.pid) else { throw SystemError(.noEntry, "qlinkd exited early (see \(scratch)/qlinkd.log)") }
    return rss
}

/// Raw Ed25519 verification against full validation and state apply of transfers, one core.
func ledgerThroughput() {
    let verify = LedgerBenchmarks.ed25519VerifyPerSecond(seconds: 3)
    let validate = LedgerBenchmarks.validateTransfersPerSecond(seconds: 3)
    emit(["ed25519_verify_per_s": "\(Int(verify))", "validate_tx_per_s": "\(Int(validate))",
          "validate_to_verify_ratio": "\((validate / verify * 100).rounded() / 100)"])
}

/// The meter's CPU per poll as the population grows, and its flash wear at 256 subscribers.
func metering() throws {
    var fields: [(String, String)] = []
    for count in [16, 256, 4096] {
        let dir = temporaryDirectory()
        defer { _ = try? Subprocess.spawn("/bin/rm", ["-rf", dir]).wait() }
        let result = try MeterBenchmarks.run(subscribers: count, hours: count == 256 ? 24 : 1, directory: dir)
        fields.append(("meter_poll_cpu_us_\(count)", "\((result.pollCPUMicroseconds * 10).rounded() / 10)"))
        if count == 256 {
            fields.append(("meter_bytes_per_day_256", "\(result.bytesPerDay)"))
            fields.append(("meter_fsyncs_per_hour_256", "\((result.fsyncsPerHour * 10).rounded() / 10)"))
        }
    }
    print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
}

ledgerThroughput()
do { try metering() } catch {
    print("qlink-bench: metering: \(error)")
    exit(1)
}
let scratch = temporaryDirectory()
do {
    let size = try strippedSize(of: "\(binDirectory)/qlinkd", in: scratch)
    let rss = try residentAfterBusyDay(seconds: rssSeconds, in: scratch, binDirectory: binDirectory)
    emit(["binary_bytes": "\(size)", "rss_kb": "\(rss)", "rss_after_s": "\(rssSeconds)", "rss_subscribers": "64"])
    _ = try? Subprocess.spawn("/bin/rm", ["-rf", scratch]).wait()
} catch {
    print("qlink-bench: \(error)")
    exit(1)
}
