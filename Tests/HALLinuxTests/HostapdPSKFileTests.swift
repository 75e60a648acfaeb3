import FoundationEssentials
import HAL
@testable import HALLinux
import Posix
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("wpa_psk_file edits")
struct WPAPSKFileTests {
    static let alice = MACAddress("02:00:00:00:0b:01")!
    static let bob = MACAddress("02:00:00:00:0b:02")!

    static let original = """
        # per-station keys, managed by qlinkd
        00:00:00:00:00:00 shared-guest-passphrase

        vlanid=3 02:00:00:00:0B:01 old alice passphrase
        keyid=bob 02:00:00:00:0b:02 bobs-passphrase
        something hostapd would not read

        """

    @Test func replacesTheStationsLineInPlaceAndKeepsEverythingElse() throws {
        var file = WPAPSKFile(parsing: Self.original)
        try file.setKey(for: Self.alice, passphrase: "new alice passphrase", keyID: "alice")
        #expect(file.render() == """
            # per-station keys, managed by qlinkd
            00:00:00:00:00:00 shared-guest-passphrase

            keyid=alice 02:00:00:00:0b:01 new alice passphrase
            keyid=bob 02:00:00:00:0b:02 bobs-passphrase
            something hostapd would not read

            """)
    }

    @Test func addsANewStationAtTheEnd() throws {
        var file = WPAPSKFile(parsing: "# keys\n")
        try file.setKey(for: Self.bob, passphrase: String(repeating: "ab", count: 32), keyID: nil)
        #expect(file.render() == "# keys\n02:00:00:00:0b:02 \(String(repeating: "ab", count: 32))\n")
    }

    @Test func revokingRemovesEveryLineOfThatStationOnly() throws {
        var file = WPAPSKFile(parsing: Self.original + "keyid=again 02:00:00:00:0b:01 twice-listed\n")
        try file.setKey(for: Self.alice, passphrase: nil, keyID: nil)
        #expect(file.entries(for: Self.alice).isEmpty)
        #expect(file.entries(for: Self.bob) == ["keyid=bob 02:00:00:00:0b:02 bobs-passphrase"])
        #expect(file.render().contains("# per-station keys"))
        #expect(file.render().contains("00:00:00:00:00:00 shared-guest-passphrase"))
    }

    @Test func anEmptyFileStaysEmptyAfterARevoke() throws {
        var file = WPAPSKFile(parsing: "")
        try file.setKey(for: Self.alice, passphrase: nil, keyID: nil)
        #expect(file.render() == "")
    }

    @Test(arguments: ["12345678", String(repeating: "x", count: 63), "with spaces inside", "~!@#$%^&*()_+{}|:<>?",
                      String(repeating: "0123456789abcdef", count: 4), String(repeating: "ABCDEF0123456789", count: 4)])
    func acceptsWhatHostapdAccepts(_ passphrase: String) throws {
        try WPAPSKFile.validate(passphrase: passphrase)
    }

    @Test(arguments: ["", "1234567", String(repeating: "x", count: 64), String(repeating: "x", count: 65),
                      "tab\tinside-it", "naïve-passphrase", "new\nline-in-it"])
    func refusesWhatHostapdWouldNot(_ passphrase: String) {
        #expect(throws: WPAPSKFile.ValidationError.self) { try WPAPSKFile.validate(passphrase: passphrase) }
    }

    @Test func errorsSayWhatIsWrong() {
        #expect(throws: WPAPSKFile.ValidationError("a passphrase must have 8 to 63 printable ASCII characters (or be 64 hex digits); this one has 7")) {
            try WPAPSKFile.validate(passphrase: "1234567")
        }
    }

    @Test(arguments: ["", "has space", String(repeating: "k", count: 32), "tab\t"])
    func refusesBadKeyIDs(_ keyID: String) {
        var file = WPAPSKFile(parsing: "")
        #expect(throws: WPAPSKFile.ValidationError.self) { try file.setKey(for: Self.alice, passphrase: "good passphrase", keyID: keyID) }
        #expect(file.render() == "")
    }

    @Test func theLongestLineFitsHostapdsBuffer() throws {
        var file = WPAPSKFile(parsing: "")
        try file.setKey(for: Self.alice, passphrase: String(repeating: "f", count: 64), keyID: String(repeating: "k", count: 31))
        #expect(file.render().utf8.count - 1 <= WPAPSKFile.longestLine)
    }
}

/// `setStationPSK`: the file edit and the commands that follow it.
@Suite("HostapdAccessPoint per-station keys")
struct HostapdPSKTests {
    typealias Rig = HostapdBackendTests.Rig
    static let alice = HostapdBackendTests.alice

    func fileText(_ rig: Rig) throws -> String {
        String(decoding: try FileSystem.readFile(rig.directory.path + "/wpa_psk"), as: UTF8.self)
    }

    @Test func settingAKeyWritesTheFileThenReloads() async throws {
        let rig = try Rig(pskFile: true)
        #expect(await rig.waitUntilUp())
        #expect(rig.backend.capabilities.contains(.perStationPSK))
        try FileSystem.writeDurably(rig.directory.path + "/wpa_psk", Array("# operator notes\nkeyid=bob 02:00:00:00:0b:02 bobs-passphrase\n".utf8), mode: 0o640)
        try await rig.backend.setStationPSK(Self.alice, passphrase: "alice passphrase", keyID: "alice")
        #expect(try fileText(rig) == "# operator notes\nkeyid=bob 02:00:00:00:0b:02 bobs-passphrase\nkeyid=alice 02:00:00:00:0b:01 alice passphrase\n")
        #expect(rig.fake.commands.last { $0 != "PING" } == "RELOAD_WPA_PSK")
        var info = stat()
        stat(rig.directory.path + "/wpa_psk", &info)
        #expect(info.st_mode & 0o777 == 0o640, "the file keeps its permissions")
        await rig.finish()
    }

    @Test func aNewFileIsPrivate() async throws {
        let rig = try Rig(pskFile: true)
        #expect(await rig.waitUntilUp())
        try await rig.backend.setStationPSK(Self.alice, passphrase: "alice passphrase", keyID: nil)
        #expect(try fileText(rig) == "02:00:00:00:0b:01 alice passphrase\n")
        var info = stat()
        stat(rig.directory.path + "/wpa_psk", &info)
        #expect(info.st_mode & 0o777 == 0o600)
        await rig.finish()
    }

    @Test func revokingRemovesTheLineReloadsAndDeauthenticates() async throws {
        let rig = try Rig(pskFile: true)
        #expect(await rig.waitUntilUp())
        try await rig.backend.setStationPSK(Self.alice, passphrase: "alice passphrase", keyID: "alice")
        try await rig.backend.setStationPSK(Self.alice, passphrase: nil, keyID: nil)
        #expect(try fileText(rig) == "")
        #expect(Array(rig.fake.commands.filter { $0 != "PING" }.suffix(2)) == ["RELOAD_WPA_PSK", "DEAUTHENTICATE 02:00:00:00:0b:01"], "keepalives may come between")
        await rig.finish()
    }

    @Test func aBadPassphraseChangesNothing() async throws {
        let rig = try Rig(pskFile: true)
        #expect(await rig.waitUntilUp())
        let before = rig.fake.commands.count
        do {
            try await rig.backend.setStationPSK(Self.alice, passphrase: "short", keyID: nil)
            Issue.record("accepted a 5-character passphrase")
        } catch let error as HALError {
            #expect(error.kind == .rejected)
            #expect(error.message.contains("8 to 63"))
        }
        #expect(!FileSystem.exists(rig.directory.path + "/wpa_psk"))
        #expect(rig.fake.commands.count == before || !rig.fake.commands.dropFirst(before).contains("RELOAD_WPA_PSK"))
        await rig.finish()
    }

    @Test func withoutAPSKFileKeysAreUnsupported() async throws {
        let rig = try Rig(pskFile: false)
        #expect(await rig.waitUntilUp())
        do {
            try await rig.backend.setStationPSK(Self.alice, passphrase: "alice passphrase", keyID: nil)
            Issue.record("set a key without a wpa_psk_file")
        } catch let error as HALError {
            #expect(error.kind == .unsupported)
        }
        await rig.finish()
    }

    @Test func whileHostapdIsAwayTheFileIsLeftAlone() async throws {
        let rig = try Rig(pskFile: true)
        #expect(await rig.waitUntilUp())
        rig.fake.stop(graceful: true)
        #expect(await rig.log.wait { $0.contains { $0.name == "degraded" } })
        do {
            try await rig.backend.setStationPSK(Self.alice, passphrase: "alice passphrase", keyID: nil)
            Issue.record("set a key while hostapd was away")
        } catch let error as HALError {
            #expect(error.kind == .unavailable)
        }
        #expect(!FileSystem.exists(rig.directory.path + "/wpa_psk"))
        await rig.finish()
    }
}
