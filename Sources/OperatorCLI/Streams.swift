import Control

/// The commands that run until stopped: `events` and `top`.
extension Command {
    /// `events`: prints each event as the daemon sends it, until it hangs up or we are stopped.
    public static let events = Command(name: "events", summary: "follow qlinkd's events until it closes or Ctrl-C", streams: true) { context in
        let client = try await context.connect()
        defer { client.close() }
        _ = try await client.call(ControlRequest("events"), deadline: context.deadline())
        // Events come when they come: no deadline here, Ctrl-C or the daemon's hang-up ends it.
        while let line = try await client.nextLine(deadline: nil) {
            if line.isEmpty { continue }
            let event: EventReport
            do {
                event = try ControlProtocol.decode(EventReport.self, from: line)
            } catch {
                throw ClientError.garbled("'\(Reply.excerpt(line))' is not an event")
            }
            try context.output.line(context.json ? String(decoding: line, as: UTF8.self) : eventLine(event))
        }
        return ExitStatus.ok
    }

    /// `top`: connected subscribers and their current rates, refreshed every interval.
    public static let top = Command(
        name: "top", summary: "live table of connected subscribers and their rates",
        options: [
            OptionSpec("interval", "S", "seconds between refreshes (default 1, at least 0.1)"),
            OptionSpec("count", "N", "stop after N refreshes (default: run until Ctrl-C)"),
        ],
        streams: true
    ) { context in
        let interval = try context.arguments.duration("interval", in: .milliseconds(100) ... .seconds(3600)) ?? .seconds(1)
        let count = try context.arguments.integer("count", in: 1 ... Int.max)
        let client = try await context.connect()
        defer { client.close() }
        let clock = ContinuousClock()
        var next = clock.now
        var refreshes = 0
        while true {
            let statusReply = try await client.call(ControlRequest("status"), deadline: context.deadline())
            let subscribersReply = try await client.call(ControlRequest("subscribers"), deadline: context.deadline())
            let status = try statusReply.decode(StatusReport.self)
            let subscribers = try subscribersReply.decode([SubscriberReport].self)
            refreshes += 1
            if context.json {
                try context.output.line(JSONValue.object(["status": statusReply.result, "subscribers": subscribersReply.result]).compactText)
            } else if context.output.isTerminal {
                // Clear the screen and home the cursor, then the whole frame in one write.
                try context.output.write("\u{1B}[H\u{1B}[2J" + topLines(status: status, subscribers: subscribers).joined(separator: "\n") + "\n")
            } else {
                try context.output.write((refreshes > 1 ? "\n" : "") + topLines(status: status, subscribers: subscribers).map { $0 + "\n" }.joined())
            }
            if let count, refreshes >= count { break }
            // Keep the beat; after a slow reply, skip the missed ticks rather than bunch up.
            next += interval
            while next < clock.now { next += interval }
            try await clock.sleep(until: next)
        }
        return ExitStatus.ok
    }

    /// `HH:MM:SS event subscriber detail`, in local time; `-` for no subscriber.
    static func eventLine(_ event: EventReport, utcOffsetSeconds: Int? = nil) -> String {
        let offset = utcOffsetSeconds ?? System.utcOffsetSeconds(atMilliseconds: event.time)
        var line = "\(Format.clockTime(milliseconds: event.time, utcOffsetSeconds: offset)) \(event.event) \(event.subscriber ?? "-")"
        if let detail = event.detail, !detail.isEmpty { line += " \(detail)" }
        return line
    }

    /// One frame of `top`: a header line, a blank line, then the connected subscribers by total rate.
    static func topLines(status: StatusReport, subscribers: [SubscriberReport]) -> [String] {
        let connected = subscribers.filter(\.connected).sorted {
            let a = $0.upRate + $0.downRate, b = $1.upRate + $1.downRate
            return a != b ? a > b : $0.id < $1.id
        }
        let up = connected.reduce(0) { $0 + max(0, $1.upRate) }
        let down = connected.reduce(0) { $0 + max(0, $1.downRate) }
        let header = [
            "station \(status.station)", "wifi \(status.wifi)", "subscribers \(status.subscribers)",
            "up \(Format.rate(up))", "down \(Format.rate(down))",
        ].joined(separator: "   ")
        guard !connected.isEmpty else { return [header, "", "no subscribers connected"] }
        var table = Table([.init("ID"), .init("KIND"), .init("UP/S", .right), .init("DOWN/S", .right),
                           .init("UP", .right), .init("DOWN", .right), .init("CONNECTED", .right), .init("SIGNAL", .right)])
        for subscriber in connected {
            table.append([
                subscriber.id, subscriber.kind, Format.rate(subscriber.upRate), Format.rate(subscriber.downRate),
                Format.bytes(subscriber.upBytes), Format.bytes(subscriber.downBytes),
                Format.duration(seconds: subscriber.connectedSeconds), Format.signal(subscriber.signalDBm),
            ])
        }
        return [header, ""] + table.render()
    }
}
