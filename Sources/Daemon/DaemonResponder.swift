import Control
import HAL
import Posix

/// Handles one control command; returns the reply line (see `ControlReplies`).
public typealias ControlHandler = @Sendable (ControlRequest) async -> [UInt8]

/// Adds a part's fields to the `status` report (the radio, the chain, ...).
public typealias StatusContributor = @Sendable (inout StatusReport) async -> Void

/// Encodes reply lines for control handlers.
public enum ControlReplies {
    public static func success<T: Codable & Sendable>(_ result: T) -> [UInt8] { encode(.success(result)) }
    public static func failure(_ message: String) -> [UInt8] { encode(ControlReply<Empty>.failure(message)) }

    static func encode<T: Codable & Sendable>(_ reply: ControlReply<T>) -> [UInt8] {
        (try? ControlProtocol.encodeLine(reply)) ?? Array("{\"ok\":false,\"error\":\"internal: cannot encode reply\"}\n".utf8)
    }
}

/// Answers control requests from the daemon's live state. Parts of the daemon add their
/// own commands (`handlers`) and status fields (`statusContributors`).
struct DaemonResponder: ControlResponder {
    static let version = "0.1.0"

    let settings: @Sendable () -> Settings
    let table: SubscriberTable
    let metering: MeteringService
    let bus: EventBus
    let wifi: (any AccessPoint)?
    let startedAt: UInt64
    let stationAddress: String
    let reload: @Sendable () async -> Result<String, ConfigError>
    var handlers: [String: ControlHandler] = [:]
    var statusContributors: [StatusContributor] = []

    func reply(to request: ControlRequest) async -> [UInt8] {
        if let handler = handlers[request.command] { return await handler(request) }
        switch request.command {
        case "ping": return encode(.success("pong"))
        case "status": return encode(.success(await status()))
        case "subscribers": return encode(.success(subscribers()))
        case "reload":
            switch await reload() {
            case .success(let summary): return encode(.success(summary))
            case .failure(let error): return encode(ControlReply<String>.failure("reload refused: \(error)"))
            }
        default:
            let known = (["ping", "status", "subscribers", "events", "reload"] + handlers.keys).sorted().joined(separator: ", ")
            return encode(ControlReply<Empty>.failure("unknown command '\(request.command)' (known: \(known))"))
        }
    }

    func events() -> AsyncStream<[UInt8]> {
        let source = bus.subscribe()
        return AsyncStream { continuation in
            let task = Task {
                for await stamped in source {
                    let report = EventReport(time: stamped.time, event: stamped.event.name,
                                             subscriber: stamped.event.subscriber?.description, detail: stamped.event.detail)
                    if let line = try? ControlProtocol.encodeLine(report) { continuation.yield(line) }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func status() async -> StatusReport {
        let settings = settings()
        let wifiState: String
        var detail: String?
        if let wifi {
            wifiState = wifi.state.rawValue
            detail = wifi.name
        } else {
            wifiState = LinkState.down.rawValue
            detail = "disabled in config"
        }
        let meter = await metering.status()
        var report = StatusReport(version: Self.version,
                            uptimeSeconds: (SystemClock.monotonicNanoseconds() - startedAt) / 1_000_000_000,
                            board: settings.boardProfile.rawValue, station: settings.stationName, wifi: wifiState,
                            wifiDetail: detail, subscribers: table.connectedCount, pid: ProcessInfo.id,
                            metering: meter.journal, journalBytes: meter.bytesAppended, journalFsyncs: meter.fsyncs)
        for contribute in statusContributors { await contribute(&report) }
        return report
    }

    func subscribers() -> [SubscriberReport] {
        let now = SystemClock.monotonicNanoseconds()
        return table.all.map { entry in
            SubscriberReport(id: entry.id.description, kind: entry.id.kind, upBytes: entry.upBytes, downBytes: entry.downBytes,
                             connectedSeconds: entry.connected ? (now &- entry.sessionStart) / 1_000_000_000 : 0,
                             connected: entry.connected, upRate: entry.upRate, downRate: entry.downRate, signalDBm: entry.signalDBm)
        }
    }

    private func encode<T: Codable & Sendable>(_ reply: ControlReply<T>) -> [UInt8] {
        ControlReplies.encode(reply)
    }
}
