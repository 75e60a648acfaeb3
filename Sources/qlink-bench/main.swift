#if canImport(Glibc)
import Glibc
#endif
import ChainStore
import Ledger
import Metering
import Posix

// `make bench`: one JSON object per line, one line per benchmark; every key is unique
// across all lines so results can be merged into one record.

var arguments = CommandLine.arguments.dropFirst()[...]
var binDirectory = ".build/release"
var rssSeconds = 60
/// Chain fixtures are generated once (minutes) and reused by later runs.
var chainFixtures: String?
var chainBlocks = 100_000
while let argument = arguments.popFirst() {
    switch argument {
    case "--bin": binDirectory = arguments.popFirst() ?? binDirectory
    case "--rss-seconds": rssSeconds = arguments.popFirst().flatMap { Int($0) } ?? rssSeconds
    case "--chain-fixtures": chainFixtures = arguments.popFirst() ?? chainFixtures
    case "--chain-blocks": chainBlocks = arguments.popFirst().flatMap { Int($0) } ?? chainBlocks
    case "--chain-rss-child": chainResidentChild(directory: arguments.popFirst() ?? ".build/bench-fixtures")
    default:
        print("usage: qlink-bench [--bin DIR] [--rss-seconds N] [--chain-fixtures DIR] [--chain-blocks N]")
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

/// The chain's storage: blocks per second that recovery replays from the block log (100,000
/// blocks of 20 transfers, each fully validated, signatures on all cores), and the resident
/// set of a process holding a store with 1,000,000 accounts. Fixtures are generated once
/// into `--chain-fixtures DIR` (default: beside the bin directory, `bench-fixtures`) and
/// reused; generation is not timed. The RSS is measured in a fresh child process (this
/// program again, `--chain-rss-child DIR`), after a first child has built the fixture, so
/// neither generation nor the replay above counts.
/// Target: `replay_blocks_per_s ≥ 0.8 × ed25519_verify_per_s / 20`; RSS ≤ 96 MB.
func chainStorage(blocks chainBlocks: Int, fixtures: String) throws {
    let directory = fixtures
    try FileSystem.createDirectory(directory)
    let clock = ContinuousClock()
    let started = clock.now
    let replay = ChainStoreBenchmarks.replayBlocksPerSecond(blocks: chainBlocks, transactionsPerBlock: 20, directory: directory)
    let total = (clock.now - started).components
    let preparing = Double(total.seconds) + Double(total.attoseconds) / 1e18 - Double(chainBlocks) / replay
    var fields: [(String, String)] = [("replay_blocks_per_s", "\(Int(replay))")]
    if chainBlocks != 100_000 { fields = [("replay_blocks_per_s_at_\(chainBlocks)", "\(Int(replay))")] }
    if preparing > 5 { FileDescriptor(rawValue: 2).log("qlink-bench: chain replay fixture generated in \(Int(preparing)) s (reused next time)") }
    var executable = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &executable, executable.count - 1)
    guard length > 0 else { throw SystemError(.current, "readlink /proc/self/exe") }
    let me = String(decoding: executable[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    var resident = 0
    for run in 0..<2 {
        // The first child builds the fixture if needed; the second measures a fresh process.
        let output = "\(directory)/rss-child.out"
        let childStarted = clock.now
        let status = try Subprocess.spawn(me, ["--chain-rss-child", directory], outputPath: output).wait()
        let childSeconds = (clock.now - childStarted).components.seconds
        if run == 0 && childSeconds > 30 {
            FileDescriptor(rawValue: 2).log("qlink-bench: 1,000,000-account store prepared in \(childSeconds) s (reused next time)")
        }
        let text = String(decoding: try FileSystem.readFile(output), as: UTF8.self)
        guard status == 0, let value = Int(text.split(separator: "\n").last ?? "") else {
            throw SystemError(.invalidArgument, "the RSS child exited \(status): \(text)")
        }
        if run == 1 { resident = value }
    }
    fields.append(("rss_kb_1m_accounts", "\(resident)"))
    print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
}

/// `--chain-rss-child DIR`: prints the RSS (KiB) with a 1,000,000-account store open, and exits.
func chainResidentChild(directory: String) -> Never {
    print(ChainStoreBenchmarks.residentKilobytesWithAccounts(1_000_000, directory: directory))
    exit(0)
}

extension FileDescriptor {
    func log(_ line: String) { try? writeAll(Array((line + "\n").utf8)) }
}

ledgerThroughput()
do { try chainStorage(blocks: chainBlocks, fixtures: chainFixtures ?? "\(binDirectory)/../bench-fixtures") } catch {
    print("qlink-bench: chain: \(error)")
    exit(1)
}
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
