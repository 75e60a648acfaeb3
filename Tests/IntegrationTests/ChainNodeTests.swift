import Crypto
import Foundation
import Ledger
import Testing

/// The station's chain node through qlinkd and qlinkctl: on the simulated board it is a
/// single-station chain that advances on its own, takes a transfer signed here, and comes
/// back after a SIGKILL with its blocks and state.
@Suite(.serialized) struct ChainNodeTests {
    func chainStatus(_ h: Harness) async throws -> [String: Any] {
        let result = try await h.qlinkctl(["chain", "status", "--json"])
        guard result.status == 0, let object = try h.json(result.stdout) as? [String: Any] else {
            throw HarnessError("chain status failed: \(result)")
        }
        return object
    }

    func height(_ status: [String: Any], _ key: String = "height") -> Int { (status[key] as? NSNumber)?.intValue ?? -1 }

    func account(_ h: Harness, _ address: String) async throws -> [String: Any] {
        let result = try await h.qlinkctl(["chain", "account", address, "--json"])
        guard result.status == 0, let object = try h.json(result.stdout) as? [String: Any] else {
            throw HarnessError("chain account failed: \(result)")
        }
        return object
    }

    /// The station's key, as qlinkd created it under the state directory.
    func stationKey(_ h: Harness) throws -> SigningKey {
        let text = try String(contentsOfFile: "\(h.root)/state/station.key", encoding: .utf8)
        return SigningKey(seed: Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines))!)!
    }

    @Test func theSingleStationChainAdvancesTakesATransferAndSurvivesSIGKILL() async throws {
        let h = try Harness("chain")
        try await h.startSimulator()
        let daemon = try await h.startDaemon()

        // It advances by itself, a block a second, and finality follows one block behind.
        let first = try await chainStatus(h)
        #expect(first["peers"] as? Int == 0 && first["syncing"] as? Bool == false)
        let started = Date()
        try await h.waitFor("two more blocks", seconds: 10) { height(try await chainStatus(h)) >= height(first) + 2 }
        #expect(Date().timeIntervalSince(started) < 10)
        let second = try await chainStatus(h)
        #expect(height(second, "final_height") >= height(first) + 1)
        #expect(height(second, "final_height") >= height(second) - 2)

        // `chain keys`: the station's address, which is the only producer.
        let key = try stationKey(h)
        let station = Address(key.publicKey).description
        let keys = try await h.qlinkctl(["chain", "keys"])
        #expect(keys.status == 0 && keys.stdout.contains("address  \(station)"))
        let keysJSON = try h.json(try await h.qlinkctl(["chain", "keys", "--json"]).stdout) as? [String: Any]
        #expect(keysJSON?["address"] as? String == station)
        #expect(second["producers"] as? [String] == [station])

        // A transfer signed here, submitted as a hex file, is included in a block.
        let chain = ChainID(Bytes32(hex: keysJSON?["chain_id"] as? String ?? "")!)
        let recipientKey = SigningKey(seed: [UInt8](repeating: 0x42, count: 32))!
        let recipient = Address(recipientKey.publicKey)
        let stationBefore = try await account(h, station)
        #expect(stationBefore["balance"] as? String == "600000000.00000000")
        let nonce = UInt64((stationBefore["nonce"] as? NSNumber)?.intValue ?? 0) + 1
        func transfer(_ amount: Amount, nonce: UInt64) throws -> SignedTransaction {
            try SignedTransaction.sign(TransactionBody(chain: chain, sender: Address(key.publicKey), nonce: nonce,
                                                       fee: Amount(units: 10_000), payload: .transfer(to: recipient, amount: amount)),
                                       with: key)
        }
        let tx = try transfer(Amount(decimal: "12.5")!, nonce: nonce)
        let hexFile = "\(h.root)/transfer.hex"
        try (Hex.encode(tx.encoded) + "\n").write(toFile: hexFile, atomically: true, encoding: .utf8)
        let submitted = try await h.qlinkctl(["chain", "tx", "submit", hexFile])
        #expect(submitted.status == 0, "\(submitted)")
        #expect(submitted.stdout.hasPrefix("accepted \(tx.id)"))
        // The same file again is refused, naming why; so is a replayed nonce.
        let again = try await h.qlinkctl(["chain", "tx", "submit", hexFile])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already in the mempool") || again.stderr.contains("nonce: \(nonce) replayed"))

        try await h.waitFor("the transfer in a block", seconds: 10) {
            (try await account(h, recipient.description))["balance"] as? String == "12.50000000"
        }
        // The station paid 12.5 QLC and its fee to itself (it produced the block).
        let stationAfter = try await account(h, station)
        #expect(stationAfter["balance"] as? String == "599999987.50000000")
        #expect((stationAfter["nonce"] as? NSNumber)?.uint64Value == nonce)
        let head = height(try await chainStatus(h))
        var including: Int?
        for n in stride(from: head, through: max(1, height(first)), by: -1) {
            let block = try h.json(try await h.qlinkctl(["chain", "block", "\(n)", "--json"]).stdout) as? [String: Any]
            if (block?["transactions"] as? [String])?.contains(tx.id.description) == true { including = n; break }
        }
        #expect(including != nil, "no block holds \(tx.id)")
        if let including {
            let text = try await h.qlinkctl(["chain", "block", "\(including)"])
            #expect(text.status == 0 && text.stdout.contains(tx.id.description))
        }

        // A second transfer as raw bytes (not hex) in the file is taken too.
        let raw = try transfer(Amount(decimal: "0.5")!, nonce: nonce + 1)
        let rawFile = "\(h.root)/transfer.bin"
        try Data(raw.encoded).write(to: URL(fileURLWithPath: rawFile))
        let rawSubmit = try await h.qlinkctl(["chain", "tx", "submit", rawFile, "--json"])
        #expect(rawSubmit.status == 0, "\(rawSubmit)")
        #expect((try h.json(rawSubmit.stdout) as? [String: Any])?["id"] as? String == raw.id.description)
        try await h.waitFor("the second transfer in a block", seconds: 10) {
            (try await account(h, recipient.description))["balance"] as? String == "13.00000000"
        }

        // SIGKILL, then a restart: the same height or more, the same state, and it goes on.
        let beforeKill = try await chainStatus(h)
        let recipientBefore = try await account(h, recipient.description)
        let stationBeforeKill = try await account(h, station)
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        try await h.startDaemon(log: "qlinkd-after-kill")
        try await h.waitFor("the replay", seconds: 30) { try await chainStatus(h)["syncing"] as? Bool == false }
        let afterKill = try await chainStatus(h)
        #expect(height(afterKill) >= height(beforeKill))
        #expect(height(afterKill, "final_height") >= height(beforeKill, "final_height"))
        for key in ["balance", "balance_units", "nonce"] {
            #expect("\(try await account(h, recipient.description)[key] ?? "")" == "\(recipientBefore[key] ?? "-")")
            #expect("\(try await account(h, station)[key] ?? "")" == "\(stationBeforeKill[key] ?? "-")")
        }
        try await h.waitFor("two more blocks after the restart", seconds: 10) {
            let status = try await chainStatus(h)
            return height(status) >= height(afterKill) + 2 && height(status, "final_height") >= height(afterKill) + 1
        }
        // Blocks made before the kill are still there, unchanged.
        let block = try h.json(try await h.qlinkctl(["chain", "block", "\(including ?? 1)", "--json"]).stdout) as? [String: Any]
        #expect(block?["final"] as? Bool == true)
        #expect((block?["transactions"] as? [String])?.contains(tx.id.description) == (including != nil))
    }

    @Test func statusShowsTheChainAndBadRequestsAreNamed() async throws {
        let h = try Harness("chain-cli")
        try await h.startSimulator()
        try await h.startDaemon()
        try await h.waitFor("a block", seconds: 10) { height(try await chainStatus(h)) >= 1 }
        let status = try await h.qlinkctl(["status", "--json"])
        let object = try h.json(status.stdout) as? [String: Any]
        #expect(object?["chain_height"] != nil && object?["chain_final_height"] != nil)
        let text = try await h.qlinkctl(["chain", "status"])
        #expect(text.status == 0 && text.stdout.contains("syncing    no"))
        let badAddress = try await h.qlinkctl(["chain", "account", "xyz"])
        #expect(badAddress.status == 64)
        let noBlock = try await h.qlinkctl(["chain", "block", "999999"])
        #expect(noBlock.status == 1 && noBlock.stderr.contains("no block at height 999999"))
        let garbage = "\(h.root)/garbage.hex"
        try "00ff".write(toFile: garbage, atomically: true, encoding: .utf8)
        let refused = try await h.qlinkctl(["chain", "tx", "submit", garbage])
        #expect(refused.status == 1 && refused.stderr.contains("malformed: transaction.chain"))
        let missing = try await h.qlinkctl(["chain", "tx", "submit", "\(h.root)/nope"])
        #expect(missing.status == 66)
    }
}
