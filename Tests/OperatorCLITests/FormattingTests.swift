@testable import OperatorCLI
import Testing

@Suite struct FormattingTests {
    @Test(arguments: [
        (UInt64(0), "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1049, "1.0 kB"), (1051, "1.1 kB"),
        (12_345_678, "12.3 MB"), (999_949, "999.9 kB"), (999_960, "1.0 MB"), (123_456_789_012, "123.5 GB"),
        (4_000_000_000_000, "4.0 TB"), (UInt64.max, "18.4 EB"),
    ])
    func bytes(count: UInt64, text: String) {
        #expect(Format.bytes(count) == text)
    }

    @Test(arguments: [
        (0.0, "0 B/s"), (-5, "0 B/s"), (.nan, "0 B/s"), (.infinity, "0 B/s"), (812.4, "812 B/s"),
        (999.6, "1.0 kB/s"), (1500, "1.5 kB/s"), (2_000_000, "2.0 MB/s"),
    ])
    func rates(bytesPerSecond: Double, text: String) {
        #expect(Format.rate(bytesPerSecond) == text)
    }

    @Test(arguments: [
        (UInt64(0), "0s"), (59, "59s"), (60, "1m00s"), (307, "5m07s"), (3599, "59m59s"), (3600, "1h00m"),
        (3720, "1h02m"), (86399, "23h59m"), (86400, "1d00h"), (273_600, "3d04h"), (10_000_000, "115d17h"),
    ])
    func durations(seconds: UInt64, text: String) {
        #expect(Format.duration(seconds: seconds) == text)
    }

    @Test func signal() {
        #expect(Format.signal(-61) == "-61 dBm")
        #expect(Format.signal(nil) == "-")
    }

    @Test(arguments: [
        (Int64(0), 0, "00:00:00"), (1_700_000_000_000, 0, "22:13:20"), (1_700_000_000_999, 0, "22:13:20"),
        (1_700_000_000_000, 3600, "23:13:20"), (1_700_000_000_000, -8 * 3600, "14:13:20"),
        (1_700_000_000_000, 5 * 3600 + 1800, "03:43:20"), (-1, 0, "23:59:59"),
    ])
    func clockTimes(milliseconds: Int64, offset: Int, text: String) {
        #expect(Format.clockTime(milliseconds: milliseconds, utcOffsetSeconds: offset) == text)
    }

    @Test func tablePadsAlignsAndTrims() {
        var table = Table([.init("ID"), .init("BYTES", .right), .init("NOTE")])
        table.append(["a", "1", ""])
        table.append(["longer-id", "12345", "x"])
        table.append(["short"])
        #expect(table.render() == [
            "ID         BYTES  NOTE",
            "a              1",
            "longer-id  12345  x",
            "short",
        ])
    }

    @Test func alignedPairs() {
        #expect(aligned([("a", "1"), ("bbb", "2")]) == ["a    1", "bbb  2"])
    }

    @Test func jsonValuesKeepWholeNumbersExactAndSortKeys() throws {
        let value = JSONValue.object(["b": .unsigned(UInt64.max), "a": .integer(-3), "c": .array([.number(1.5), .null, .bool(false), .string("x/y")])])
        #expect(value.compactText == #"{"a":-3,"b":18446744073709551615,"c":[1.5,null,false,"x/y"]}"#)
        #expect(JSONValue.null.isEmpty && JSONValue.object([:]).isEmpty && JSONValue.array([]).isEmpty)
        #expect(!JSONValue.string("").isEmpty)
    }
}
