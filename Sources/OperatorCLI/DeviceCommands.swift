import Control

/// Commands about the board's devices: the cellular radio and the board itself.
extension Command {
    /// `radio`: the cell's configuration, state and attached subscribers.
    public static let radio = Command(name: "radio", summary: "the cellular cell: configuration, state, attached subscribers") { context in
        let reply = try await context.call("radio")
        let report = try reply.decode(RadioReport.self)
        if context.json {
            try context.output.line(reply.result.compactText)
            return ExitStatus.ok
        }
        try context.output.lines(aligned([
            ("radio", "\(report.state) (\(report.device))"),
            ("cell", "band \(report.band), channel \(report.channel), MCC \(report.mcc) MNC \(report.mnc), LAC \(report.lac), cell \(report.cellID)"),
            ("power", "\(report.transmitPowerDBm) dBm"),
            ("capacity", "\(report.attached.count) of \(report.capacity) attached"),
            ("configuration", report.configuration),
        ]))
        guard !report.attached.isEmpty else { return ExitStatus.ok }
        var table = Table([.init("IMSI"), .init("IP"), .init("ATTACHED", .right), .init("UP", .right), .init("DOWN", .right)])
        for ue in report.attached {
            table.append([ue.id, ue.ip ?? "-", ue.attachedSeconds.map { Format.duration(seconds: $0) } ?? "-",
                          ue.upBytes.map(Format.bytes) ?? "-", ue.downBytes.map(Format.bytes) ?? "-"])
        }
        try context.output.line("")
        try context.output.lines(table.render())
        return ExitStatus.ok
    }

    /// `board`: temperatures, watchdog, GPS, load and pressure.
    public static let board = Command(name: "board", summary: "the board: temperatures, watchdog, GPS fix, CPU load and pressure") { context in
        let reply = try await context.call("board")
        if context.json {
            try context.output.line(reply.result.compactText)
        } else {
            try context.output.lines(boardLines(try reply.decode(BoardReport.self)))
        }
        return ExitStatus.ok
    }

    static func boardLines(_ report: BoardReport) -> [String] {
        var lines: [(String, String)] = []
        for zone in report.thermal {
            let value = zone.celsius.map { "\($0) °C" } ?? "unreadable: \(zone.error ?? "?")"
            let trip = zone.tripCelsius.map { ", trip \($0) °C" } ?? ""
            lines.append(("thermal \(zone.name)", value + trip + (zone.alarm ? " ALARM" : "")))
        }
        lines.append(("watchdog", report.watchdog))
        lines.append(("gps", report.gps.latitude.map { "\(report.gps.fix) \($0), \(report.gps.longitude ?? 0)" } ?? report.gps.fix))
        lines.append(("cpu", report.cpuBusy.map { "\(Int(($0 * 100).rounded())) % busy" } ?? "unknown"))
        lines.append(("pressure", report.cpuPressure10.map { "\($0) % some (avg10)" } ?? "unknown"))
        lines.append(("front end", report.frontEnd))
        return aligned(lines)
    }
}
