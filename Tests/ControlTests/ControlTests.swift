import Testing
import FoundationEssentials
@testable import Control

struct LineSplitterTests {
    @Test func splitsAcrossChunks() {
        var splitter = LineSplitter(limit: 100)
        #expect(splitter.push(Array("{\"cmd\":".utf8)) == [])
        #expect(splitter.push(Array("\"ping\"}\n{}\n{".utf8)) == [.line(Array("{\"cmd\":\"ping\"}".utf8)), .line(Array("{}".utf8))])
        #expect(splitter.push(Array("}\n".utf8)) == [.line(Array("{}".utf8))])
    }

    @Test func oversizedLineIsReportedOnceAndDropped() {
        var splitter = LineSplitter(limit: 4)
        #expect(splitter.push(Array("abcdefgh".utf8)) == [.oversized])
        #expect(splitter.push(Array("ijk\nok\n".utf8)) == [.line(Array("ok".utf8))])
    }
}

struct ProtocolTests {
    @Test func requestsDecodeWithOrWithoutArguments() throws {
        let plain = try ControlProtocol.decode(ControlRequest.self, from: Array("{\"cmd\":\"status\"}".utf8))
        #expect(plain == ControlRequest("status"))
        let args = try ControlProtocol.decode(ControlRequest.self, from: Array("{\"cmd\":\"x\",\"args\":{\"a\":\"b\"}}".utf8))
        #expect(args.arguments == ["a": "b"])
        #expect(throws: (any Error).self) { try ControlProtocol.decode(ControlRequest.self, from: Array("{\"command\":1}".utf8)) }
    }

    @Test func repliesUseTheDocumentedKeys() throws {
        let report = SubscriberReport(id: "mac:02:00:00:00:00:01", kind: "wifi", upBytes: 1, downBytes: 2, connectedSeconds: 3,
                                      connected: true, upRate: 0, downRate: 0, signalDBm: nil)
        let line = String(decoding: try ControlProtocol.encodeLine(ControlReply.success([report])), as: UTF8.self)
        #expect(line == "{\"ok\":true,\"result\":[{\"connected\":true,\"connected_s\":3,\"down_bps\":0,\"down_bytes\":2,\"id\":\"mac:02:00:00:00:00:01\",\"kind\":\"wifi\",\"up_bps\":0,\"up_bytes\":1}]}\n")
        let failure = String(decoding: try ControlProtocol.encodeLine(ControlReply<Empty>.failure("no")), as: UTF8.self)
        #expect(failure == "{\"error\":\"no\",\"ok\":false}\n")
    }
}
