import HAL
@testable import HALLinux
import Testing

/// The OpenBTS CLI parsers, with the texts OpenBTS 5 prints (see the README's facts).
@Suite("OpenBTS CLI protocol")
struct OpenBTSProtocolTests {
    static let ms1 = " MS#1,TLLI=c001f001,78428eca rrmode=PacketIdle Bytes:53495up/139441down Utilization=0%"
    static let gmm1 = "\t GMM Context: imsi=901550000000022 ptmsi=0x1f001 tlli=0xc001f001 state=GmmRegisteredNormal age=111 idle=5 IPs=192.168.99.4"

    @Test func framesCommandsWithABigEndianLength() throws {
        #expect(try OpenBTSFrame.encode("version") == [0, 0, 0, 7] + Array("version".utf8))
        let longest = "config " + String(repeating: "x", count: 120)
        #expect(try OpenBTSFrame.encode(longest).prefix(4) == [0, 0, 0, 127])
        // OpenBTS drops a command whose length byte is 128 or more: refuse before sending.
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSFrame.encode(longest + "x") }
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSFrame.encode("config GSM.Identity.MCC 0é1") }
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSFrame.encode("version\ngprs list") }
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSFrame.encode("") }
    }

    @Test func decodesFramesSplitAndJoinedAnyhow() throws {
        var decoder = OpenBTSFrameDecoder()
        let one: [UInt8] = [0, 0, 0, 5] + Array("hello".utf8)
        let empty: [UInt8] = [0, 0, 0, 0]
        decoder.append(Array(one.prefix(3)))
        #expect(try decoder.next() == nil)
        decoder.append(Array(one.dropFirst(3)) + empty + [0, 0])
        #expect(try decoder.next() == "hello")
        #expect(try decoder.next() == "")
        #expect(try decoder.next() == nil)
        #expect(decoder.pendingByteCount == 2)
    }

    @Test func refusesGarbledFrames() {
        var tooLong = OpenBTSFrameDecoder()
        tooLong.append([0xff, 0xff, 0xff, 0xff, 0x41])
        #expect(throws: OpenBTSProtocolError.self) { try tooLong.next() }
        var justOver = OpenBTSFrameDecoder()
        justOver.append([0x00, 0x10, 0x00, 0x01])
        #expect(throws: OpenBTSProtocolError.self) { try justOver.next() }
        var nul = OpenBTSFrameDecoder()
        nul.append([0, 0, 0, 3, 0x41, 0x00, 0x42])
        #expect(throws: OpenBTSProtocolError.self) { try nul.next() }
        var binary = OpenBTSFrameDecoder()
        binary.append([0, 0, 0, 2, 0xc3, 0xa9])
        #expect(throws: OpenBTSProtocolError.self) { try binary.next() }
    }

    @Test func findsTheErrorOpenBTSAppends() {
        #expect(OpenBTSReply.error(in: "command not found\n")! == ("command not found", ""))
        #expect(OpenBTSReply.error(in: "wrong number of arguments\n")! == ("wrong number of arguments", ""))
        #expect(OpenBTSReply.error(in: "bad argument(s)")! == ("bad argument(s)", ""))
        let failed = OpenBTSReply.error(in: "GSM.Radio.C0 new value \"x\" is invalid, change not made\ncommand failed")
        #expect(failed! == ("command failed", "GSM.Radio.C0 new value \"x\" is invalid, change not made"))
        #expect(OpenBTSReply.error(in: "current downlink power -10 dB wrt full scale\n") == nil)
        #expect(OpenBTSReply.error(in: "") == nil)
    }

    @Test func readsTheVersion() throws {
        let version = try OpenBTSVersion(parsing: "release 5.0-master+0a1b2c3d4e CommonLibs:5f6a7b8c9d+GPRS P built Jan  2 2024 \n")
        #expect(version.release == "5.0-master+0a1b2c3d4e")
        #expect(version.line.hasSuffix("2024"))
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSVersion(parsing: "command not found\n") }
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSVersion(parsing: "") }
    }

    @Test func readsTheUptimeWithItsPrecision() throws {
        let short = try #require(OpenBTSUptime(parsing: "Unix time 1700000000\nuptime 5 seconds\n"))
        #expect(short.seconds == 5 && short.uncertainty == 1)
        let hours = try #require(OpenBTSUptime(parsing: "Unix time 1700000000\nuptime 2.5 hours\n"))
        #expect(hours.seconds == 9000 && hours.uncertainty == 180)
        let framed = try #require(OpenBTSUptime(parsing: "Local time 1700000000, 2023-11-14T22:13:20\nwatchdog timer expires in 0 minutes\nuptime 45 seconds, frame 0:9750\n"))
        #expect(framed.seconds == 45, "OpenBTS 5 prints the frame number after a comma")
        let exponent = try #require(OpenBTSUptime(parsing: "uptime 1.2e+02 minutes\n"))
        #expect(exponent.seconds == 7200 && exponent.uncertainty == 300)
        #expect(OpenBTSUptime(parsing: "command not found\n") == nil)
        #expect(OpenBTSUptime(parsing: "uptime soon\n") == nil)
    }

    @Test func readsConfigReplies() throws {
        let c0 = "GSM.Radio.C0 changed from \"51\" to \"151\"\nGSM.Radio.C0 is static; change takes effect on restart\n"
        #expect(try OpenBTSConfigReply(parsing: c0, key: "GSM.Radio.C0") == .changed(from: "51", to: "151", isStatic: true))
        let lac = "GSM.Identity.LAC changed from \"1000\" to \"1001\"\n"
        #expect(try OpenBTSConfigReply(parsing: lac, key: "GSM.Identity.LAC") == .changed(from: "1000", to: "1001", isStatic: false))
        let same = "GSM.Identity.CI is already set to \"10\", nothing changed\n"
        #expect(try OpenBTSConfigReply(parsing: same, key: "GSM.Identity.CI") == .unchanged)
        let sameValue = "GSM.Radio.C0 changed from \"51\" to \"51\"\nGSM.Radio.C0 is static; change takes effect on restart\n"
        #expect(try OpenBTSConfigReply(parsing: sameValue, key: "GSM.Radio.C0") == .unchanged)
        let defined = "WARNING: something to note\nGSM.Identity.MNC defined to \"02\"\n"
        #expect(try OpenBTSConfigReply(parsing: defined, key: "GSM.Identity.MNC") == .changed(from: nil, to: "02", isStatic: false))
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSConfigReply(parsing: lac, key: "GSM.Identity.CI") }
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSConfigReply(parsing: "", key: "GSM.Identity.CI") }
    }

    @Test func readsThePowerReply() throws {
        #expect(try OpenBTSPowerReply.parse("current downlink power -10 dB wrt full scale\n") == -10)
        #expect(try OpenBTSPowerReply.parse("current downlink power 0 dB wrt full scale\n") == 0)
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSPowerReply.parse("power set\n") }
    }

    @Test func readsGPRSListRecords() throws {
        let records = try OpenBTSGPRSList.parse(Self.ms1 + "\n" + Self.gmm1 + "\n")
        #expect(records == [OpenBTSMSRecord(id: "MS#1", upBytes: 53495, downBytes: 139441, context: OpenBTSGMMContext(
            imsi: "901550000000022", state: "GmmRegisteredNormal", ageSeconds: 111, ipAddress: "192.168.99.4"))])
        #expect(records[0].context?.isRegistered == true)
        #expect(try OpenBTSGPRSList.parse("") == [])
    }

    @Test func readsSeveralRecordsAndSkipsOtherLines() throws {
        let second = " MS#7,TLLI=c002f001,c001f001 rrmode=PacketTransfer Bytes:100up/200down Utilization=3%"
        let gmm = "\t GMM Context: imsi=901550000000022 ptmsi=0x1f001 tlli=0xc002f001 state=GmmRegisteredNormal age=3 idle=0 IPs=192.168.99.4"
        let bare = " MS#9,TLLI=c003f001,0 rrmode=PacketIdle Bytes:0up/0down Utilization=0%"
        let text = ["GPRS MS list:", Self.ms1, Self.gmm1, "\tTBF#3 up", second, gmm, bare, ""].joined(separator: "\n")
        let records = try OpenBTSGPRSList.parse(text)
        #expect(records.map(\.id) == ["MS#1", "MS#7", "MS#9"])
        #expect(records.map(\.upBytes).reduce(0, +) == 53595)
        #expect(records[1].context?.ageSeconds == 3)
        #expect(records[2].context == nil)
    }

    @Test func refusesMalformedGPRSListLines() {
        let badBytes = " MS#1,TLLI=c001f001,78428eca rrmode=PacketIdle Bytes:lots Utilization=0%"
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSGPRSList.parse(badBytes) }
        let noBytes = " MS#1,TLLI=c001f001,78428eca rrmode=PacketIdle Utilization=0%"
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSGPRSList.parse(noBytes) }
        let noIMSI = Self.ms1 + "\n\t GMM Context: ptmsi=0x1f001 state=GmmRegisteredNormal\n"
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSGPRSList.parse(noIMSI) }
        #expect(throws: OpenBTSProtocolError.self) { try OpenBTSGPRSList.parse(Self.gmm1) }
    }

    @Test func turnsPowerIntoAttenuation() {
        let board = PowerCalibration(maximumOutputDBm: 20)
        #expect(board.attenuation(for: 20) == 0)
        #expect(board.attenuation(for: 10) == 10)
        #expect(board.attenuation(for: 10.4) == 10)
        #expect(board.attenuation(for: 9.5) == 11)
        #expect(board.attenuation(for: -30) == 50)
        #expect(PowerCalibration(maximumOutputDBm: 17).attenuation(for: 20) == 0)
        #expect(PowerCalibration(maximumOutputDBm: 26).attenuation(for: 20) == 6)
    }

    @Test func tellsARestartFromAStall() {
        let uptime = { (text: String) in OpenBTSUptime(parsing: text) }
        // Seen 2 s ago, up 5 s: the same process.
        #expect(!OpenBTSRadio.restarted(silence: .seconds(2), uptime: uptime("uptime 5 seconds"), versionChanged: false, refusedSinceLoss: false))
        // Seen 3 s ago, up 0 s: started since.
        #expect(OpenBTSRadio.restarted(silence: .seconds(3), uptime: uptime("uptime 0 seconds"), versionChanged: false, refusedSinceLoss: false))
        #expect(!OpenBTSRadio.restarted(silence: .seconds(10), uptime: uptime("uptime 3.5 hours"), versionChanged: false, refusedSinceLoss: false))
        #expect(OpenBTSRadio.restarted(silence: .seconds(600), uptime: uptime("uptime 3 minutes"), versionChanged: false, refusedSinceLoss: false))
        // Nobody listened meanwhile, a new build, or no way to tell: assume a restart.
        #expect(OpenBTSRadio.restarted(silence: .seconds(1), uptime: uptime("uptime 5 hours"), versionChanged: false, refusedSinceLoss: true))
        #expect(OpenBTSRadio.restarted(silence: .seconds(1), uptime: uptime("uptime 5 hours"), versionChanged: true, refusedSinceLoss: false))
        #expect(OpenBTSRadio.restarted(silence: .seconds(1), uptime: nil, versionChanged: false, refusedSinceLoss: false))
    }
}
