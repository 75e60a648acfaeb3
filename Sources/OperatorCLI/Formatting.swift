/// Human forms of the numbers `qlinkctl` prints. Pure functions, no locale: the output
/// is the same on the board and on a laptop.
public enum Format {
    private static let byteUnits = ["kB", "MB", "GB", "TB", "PB", "EB"]

    /// Decimal (SI) byte counts, as network gear counts them: `999 B`, `1.0 kB`, `12.3 MB`.
    public static func bytes(_ count: UInt64) -> String {
        guard count >= 1000 else { return "\(count) B" }
        var divisor = 1000.0
        for unit in byteUnits {
            let tenths = (Double(count) / divisor * 10).rounded()
            // 999_950 B rounds to 1000.0 kB: print it as 1.0 MB instead.
            if tenths < 10_000 || unit == byteUnits.last {
                let whole = Int(tenths) / 10, fraction = Int(tenths) % 10
                return "\(whole).\(fraction) \(unit)"
            }
            divisor *= 1000
        }
        return "\(count) B"
    }

    /// A rate in bytes per second: `0 B/s`, `812 B/s`, `1.5 MB/s`. Negative or non-finite
    /// rates (a counter reset seen mid-poll) print as `0 B/s`.
    public static func rate(_ bytesPerSecond: Double) -> String {
        guard bytesPerSecond.isFinite, bytesPerSecond > 0 else { return "0 B/s" }
        let rounded = bytesPerSecond.rounded()
        return bytes(rounded >= Double(UInt64.max) ? UInt64.max : UInt64(rounded)) + "/s"
    }

    /// A duration at the two largest units: `45s`, `5m07s`, `1h02m`, `3d04h`.
    public static func duration(seconds: UInt64) -> String {
        let minutes = seconds / 60, hours = seconds / 3600, days = seconds / 86400
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(minutes)m\(twoDigits(seconds % 60))s" }
        if seconds < 86400 { return "\(hours)h\(twoDigits(minutes % 60))m" }
        return "\(days)d\(twoDigits(hours % 24))h"
    }

    /// A signal strength, `-61 dBm`, or `-` when the radio did not report one.
    public static func signal(_ dBm: Int?) -> String {
        dBm.map { "\($0) dBm" } ?? "-"
    }

    /// `HH:MM:SS` of a wall-clock time in milliseconds since the epoch, shifted by a UTC offset.
    public static func clockTime(milliseconds: Int64, utcOffsetSeconds: Int) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let local = seconds + Int64(utcOffsetSeconds)
        let ofDay = ((local % 86400) + 86400) % 86400
        return "\(twoDigits(UInt64(ofDay / 3600))):\(twoDigits(UInt64(ofDay / 60 % 60))):\(twoDigits(UInt64(ofDay % 60)))"
    }

    private static func twoDigits(_ value: UInt64) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}

/// A plain-text table: a header row, columns padded to their widest cell, two spaces
/// between columns, no trailing blanks.
public struct Table: Sendable {
    public enum Alignment: Sendable { case left, right }

    public struct Column: Sendable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public var columns: [Column]
    public var rows: [[String]] = []

    public init(_ columns: [Column]) {
        self.columns = columns
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    public mutating func append(_ cells: [String]) {
        rows.append(Array((cells + Array(repeating: "", count: max(0, columns.count - cells.count))).prefix(columns.count)))
    }

    /// The header line, then one line per row.
    public func render() -> [String] {
        let all = [columns.map(\.title)] + rows
        let widths = columns.indices.map { index in all.map { $0[index].count }.max() ?? 0 }
        return all.map { cells in
            var line = ""
            for (index, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                if index > 0 { line += "  " }
                line += columns[index].alignment == .left ? cell + padding : padding + cell
            }
            while line.last == " " { line.removeLast() }
            return line
        }
    }
}
