import ChainTestSupport
import Crypto
import Testing
@testable import Ledger

struct GenesisFiles {
    static let a = TestChain.alice.address, b = TestChain.bob.address, p = TestChain.producer.address

    /// A valid genesis file with `allocations` spliced in.
    static func file(allocations: String? = nil, parameters: String? = nil, extra: String = "") -> String {
        let allocations = allocations ?? """
            [{"address": "\(b)", "amount": "599999999.5"}, {"address": "\(a)", "amount": "0.50000000"}]
            """
        let parameters = parameters ?? """
            {"blockIntervalMs": 1000, "producerCount": 21, "slotsPerProducer": 2, "maxBlockBytes": 1048576,
             "maxTransactionBytes": 4096, "minimumFee": "0.00001", "feePerByte": "0.0000001", "assetConfirmations": 6}
            """
        return """
            {
              "chainName": "qlink-sim",\(extra)
              "timestampMs": 1767225600000,
              "parameters": \(parameters),
              "allocations": \(allocations),
              "producers": [{"address": "\(p)", "name": "bs1", "url": "", "signingKey": "\(p)"}]
            }
            """
    }

    static func error(_ text: String) -> String? {
        decodeError { () throws(DecodeError) in _ = try Genesis(json: Array(text.utf8)) }?.description
    }

    @Test func parsesSortsAndRoundTrips() throws {
        let genesis = try Genesis(json: Array(Self.file().utf8))
        #expect(genesis.chainName == "qlink-sim")
        #expect(genesis.allocations.map(\.address) == [Self.a, Self.b].sorted())
        #expect(genesis.parameters == ChainParameters.standard)
        let again = try Genesis(json: Array(genesis.json.utf8))
        #expect(again == genesis)
        #expect(again.chainID == genesis.chainID)
        #expect(try Genesis(decoding: genesis.canonicalEncoding).chainID == genesis.chainID)
        let state = InMemoryLedgerState(genesis: genesis)
        #expect(state.account(Self.a)?.balance == Amount(units: 50_000_000))
        #expect(state.producer(Self.p)?.name == "bs1")
        #expect(state.heldSupply() == Amount.totalSupply)
    }

    @Test func theChainIDCommitsToEverything() throws {
        let base = try Genesis(json: Array(Self.file().utf8)).chainID
        let otherName = Self.file().replacingOccurrences("qlink-sim", "qlink-sim2")
        let otherTime = Self.file().replacingOccurrences("1767225600000", "1767225600001")
        let otherFee = Self.file().replacingOccurrences("\"0.00001\"", "\"0.00002\"")
        for text in [otherName, otherTime, otherFee] {
            #expect(try Genesis(json: Array(text.utf8)).chainID != base)
        }
    }

    @Test func theSupplyMustBeExact() {
        let short = """
            [{"address": "\(Self.a)", "amount": "599999999.99999999"}]
            """
        #expect(Self.error(Self.file(allocations: short))
            == "genesis.allocations: total 599999999.99999999 QLC is not the supply of 600000000.00000000 QLC")
        let over = """
            [{"address": "\(Self.a)", "amount": "600000000"}, {"address": "\(Self.b)", "amount": "0.00000001"}]
            """
        #expect(Self.error(Self.file(allocations: over))
            == "genesis.allocations[1].amount: total exceeds the supply of 600000000.00000000 QLC")
        let zero = """
            [{"address": "\(Self.a)", "amount": "600000000"}, {"address": "\(Self.b)", "amount": "0"}]
            """
        #expect(Self.error(Self.file(allocations: zero)) == "genesis.allocations[1].amount: must be positive")
        let duplicate = """
            [{"address": "\(Self.a)", "amount": "300000000"}, {"address": "\(Self.a)", "amount": "300000000"}]
            """
        #expect(Self.error(Self.file(allocations: duplicate)) == "genesis.allocations[1].address: duplicate \(Self.a)")
    }

    @Test func fieldErrorsNameTheField() {
        #expect(Self.error(Self.file(extra: "\n  \"colour\": 1,")) == "genesis.colour: unknown key")
        let noFee = Self.file().replacingOccurrences("\"feePerByte\": \"0.0000001\", ", "")
        #expect(Self.error(noFee) == "genesis.parameters.feePerByte: missing")
        let numeric = Self.file().replacingOccurrences("\"0.00001\"", "0.00001")
        #expect(Self.error(numeric) == "genesis.parameters.minimumFee: expected a string, found a number")
        let precise = Self.file().replacingOccurrences("\"0.00001\"", "\"0.000000001\"")
        #expect(Self.error(precise)?.hasPrefix("genesis.parameters.minimumFee: \"0.000000001\" is not a QLC amount") == true)
        let producers = Self.file().replacingOccurrences("\"producerCount\": 21", "\"producerCount\": 22")
        #expect(Self.error(producers) == "genesis.parameters.producerCount: 22 outside 1...21")
        let negative = Self.file().replacingOccurrences("\"producerCount\": 21", "\"producerCount\": -1")
        #expect(Self.error(negative) == "genesis.parameters.producerCount: -1 is not an integer in 0...255")
        let badKey = Self.file().replacingOccurrences("\"signingKey\": \"\(Self.p)\"", "\"signingKey\": \"abc\"")
        #expect(Self.error(badKey) == "genesis.producers[0].signingKey: \"abc\" is not 64 hex digits")
        let badName = Self.file().replacingOccurrences("\"bs1\"", "\"\"")
        #expect(Self.error(badName) == "genesis.producers[0].name: length 0 < 1")
        let spaced = Self.file().replacingOccurrences("qlink-sim", "qlink sim")
        #expect(Self.error(spaced)?.hasPrefix("genesis.chainName:") == true)
    }

    @Test func invalidJSONGivesLineAndColumn() {
        #expect(Self.error("{\n  \"chainName\": \"x\",\n  oops\n}") == "genesis: invalid JSON at line 3, column 3: expected a key")
        #expect(Self.error("{\"a\": 1, \"a\": 2}") == "genesis: invalid JSON at line 1, column 10: duplicate key \"a\"")
        #expect(Self.error("[1] x")?.contains("unexpected text after the value") == true)
        #expect(Self.error("\"unterminated")?.contains("unterminated string") == true)
        #expect(Self.error(String(repeating: "[", count: 100))?.contains("nested deeper than 32") == true)
        #expect(Self.error("[01]")?.contains("invalid number") == true)
        #expect(Self.error("[]") == "genesis: expected an object, found an array")
    }

    @Test func jsonStringsUnescape() throws {
        let value = try JSONParser.parse(Array(#"["a\"b\\c\/\n\u00e9\ud83d\ude00"]"#.utf8))
        #expect(value == .array([.string("a\"b\\c/\né😀")]))
        #expect(JSONValue.string("a\"\u{1}").rendered() == "\"a\\\"\\u0001\"\n")
    }
}

extension String {
    /// Replaces every occurrence (test helper; the toolchain's version lives in Foundation).
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
