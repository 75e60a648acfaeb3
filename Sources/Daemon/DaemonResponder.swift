import Control
import HAL
import Posix

/// Answers control requests from the daemon's live state.
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

    func reply(to request: ControlRequest) async -> [UInt8] {
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
            return encode(ControlReply<Empty>.failure("unknown command '\(request.command)' (known: ping, status, subscribers, events, reload)"))
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
        return StatusReport(version: Self.version,
                            uptimeSeconds: (SystemClock.monotonicNanoseconds() - startedAt) / 1_000_000_000,
                            board: settings.board.rawValue, station: settings.stationName, wifi: wifiState,
                            wifiDetail: detail, subscribers: table.connectedCount, pid: ProcessInfo.id,
                            metering: meter.journal, journalBytes: meter.bytesAppended, journalFsyncs: meter.fsyncs)
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
        (try? ControlProtocol.encodeLine(reply)) ?? Array("{\"ok\":false,\"error\":\"internal: cannot encode reply\"}\n".utf8)
    }
}
