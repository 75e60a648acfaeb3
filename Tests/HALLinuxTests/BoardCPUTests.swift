import HAL
@testable import HALLinux
import Testing

/// `/proc/stat` and `/proc/pressure/cpu` parsing, and `ProcCPU` against a fake procfs.
@Suite("ProcCPU")
struct BoardCPUTests {
    static let stat1 = """
        cpu  131235 0 46589 218486 1680 0 350 70 0 0
        cpu0 58276 0 23588 116861 350 0 54 34 0 0
        cpu1 72959 0 23001 101625 1329 0 296 35 0 0
        intr 1234 5 6
        ctxt 999

        """
    /// 1000 ticks later: 600 busy (user 400, system 150, softirq 50), 300 idle, 100 iowait.
    static let stat2 = """
        cpu  131635 0 46739 218786 1780 0 400 70 0 0
        cpu0 58276 0 23588 116861 350 0 54 34 0 0

        """
    static let psi = """
        some avg10=48.43 avg60=35.33 avg300=31.91 total=341876599
        full avg10=0.00 avg60=0.00 avg300=0.00 total=0

        """

    @Test func parsesTheAggregateCPULine() throws {
        let times = try #require(CPUTimes(procStat: Self.stat1))
        #expect(times == CPUTimes(user: 131235, nice: 0, system: 46589, idle: 218486, iowait: 1680, irq: 0, softirq: 350, steal: 70))
        #expect(times.total == 131235 + 46589 + 218486 + 1680 + 350 + 70, "guest and guest_nice are already in user and nice")
    }

    @Test func busyFractionIsTheNonIdleShareOfTheTicksBetweenSamples() throws {
        let first = try #require(CPUTimes(procStat: Self.stat1))
        let second = try #require(CPUTimes(procStat: Self.stat2))
        #expect(second.busyFraction(since: first) == 0.6)
        #expect(first.busyFraction(since: first) == nil, "no time passed")
        #expect(first.busyFraction(since: second) == nil, "counters went backwards")
    }

    @Test func oldKernelsWithFewerFieldsAndBadTextAreHandled() {
        #expect(CPUTimes(procStat: "cpu  10 20 30 40\n") == CPUTimes(user: 10, nice: 20, system: 30, idle: 40))
        #expect(CPUTimes(procStat: "cpu  10 20 30\n") == nil)
        #expect(CPUTimes(procStat: "cpu  10 x 30 40\n") == nil)
        #expect(CPUTimes(procStat: "cpu0 1 2 3 4\n") == nil, "only the aggregate line counts")
        #expect(CPUTimes(procStat: "") == nil)
    }

    @Test func parsesPressureStallInformation() throws {
        let pressure = try #require(CPUPressure(psi: Self.psi))
        #expect(pressure == CPUPressure(someAvg10: 48.43, someAvg60: 35.33, someAvg300: 31.91, fullAvg10: 0))
        let old = try #require(CPUPressure(psi: "some avg10=1.50 avg60=0.25 avg300=0.00 total=42\n"))
        #expect(old.fullAvg10 == nil, "kernels before 5.13 have no full line for the CPU")
        #expect(CPUPressure(psi: "full avg10=1 avg60=2 avg300=3 total=4\n") == nil)
        #expect(CPUPressure(psi: "some avg10=x avg60=2 avg300=3\n") == nil)
    }

    @Test func samplesAFakeProcRoot() throws {
        let proc = BoardScratch("proc")
        defer { proc.remove() }
        proc.write("stat", Self.stat1)
        proc.write("pressure/cpu", Self.psi)
        let cpu = ProcCPU(procRoot: proc.path)
        let first = try cpu.sample()
        #expect(first.busyFraction == nil, "the first sample has nothing to compare with")
        #expect(first.pressure?.someAvg10 == 48.43)
        #expect(first.pressureProblem == nil)

        proc.write("stat", Self.stat2)
        proc.removeItem("pressure")
        let second = try cpu.sample()
        #expect(second.busyFraction == 0.6)
        #expect(second.pressure == nil)
        #expect(second.pressureProblem == "cannot read \(proc.path)/pressure/cpu: No such file or directory")

        proc.write("stat", "garbage\n")
        #expect(throws: HALError.self) { try cpu.sample() }
        proc.removeItem("stat")
        #expect(throws: HALError.self) { try cpu.sample() }
    }

    @Test func samplesThisMachinesProc() throws {
        let cpu = ProcCPU()
        _ = try cpu.sample()
        let load = try cpu.sample()
        if let busy = load.busyFraction { #expect((0...1).contains(busy)) }
        #expect(load.pressure != nil || load.pressureProblem != nil)
    }
}
