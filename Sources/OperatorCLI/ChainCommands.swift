import Control
import Crypto
import Posix

/// `qlinkctl chain …`: the station's node of the Qlink chain, through qlinkd.
extension Command {
    public static let chain = Command(
        name: "chain", summary: "the chain node: status, blocks, accounts, submitting transactions, the station's address",
        acceptsJSON: false, subcommands: [chainStatus, chainBlock, chainAccount, chainTx, chainKeys], details: ChainText.details
    ) { _ in throw UsageError("'chain' needs a subcommand", command: "chain") }

    /// `chain status`: heights, head, producers, peers.
    static let chainStatus = Command(name: "status", summary: "head and final height, head block, producers, peers, syncing") { context in
        let reply = try await context.call("chain-status")
        if context.json {
            try context.output.line(reply.result.compactText)
        } else {
            try context.output.lines(ChainText.statusLines(try reply.decode(ChainStatusReport.self)))
        }
        return ExitStatus.ok
    }

    /// `chain block N`: one block's header and transaction ids.
    static let chainBlock = Command(name: "block", summary: "block N: its header fields and transaction ids", arguments: ["N"],
                                    details: ["N is a height (1 is the first block after the genesis)."]) { context in
        guard let text = context.arguments.positionals.first else { throw UsageError("'chain block' needs a height N", command: "chain block") }
        guard let height = UInt64(text), height > 0 else {
            throw UsageError("N must be a height from 1, got '\(text)'", command: "chain block")
        }
        let reply = try await context.call("chain-block", ["height": "\(height)"])
        if context.json {
            try context.output.line(reply.result.compactText)
        } else {
            try context.output.lines(ChainText.blockLines(try reply.decode(ChainBlockReport.self)))
        }
        return ExitStatus.ok
    }

    /// `chain account ADDR`: balance, nonce and votes at the head.
    static let chainAccount = Command(name: "account", summary: "account ADDR at the head: balance, nonce, votes", arguments: ["ADDR"],
                                      details: ["ADDR is an account: its Ed25519 public key as 64 hex digits."]) { context in
        guard let address = context.arguments.positionals.first else {
            throw UsageError("'chain account' needs an address", command: "chain account")
        }
        guard address.count == 64, Hex.decode(address) != nil else {
            throw UsageError("ADDR must be 64 hex digits, got '\(address)'", command: "chain account")
        }
        let reply = try await context.call("chain-account", ["address": address.lowercased()])
        if context.json {
            try context.output.line(reply.result.compactText)
        } else {
            try context.output.lines(ChainText.accountLines(try reply.decode(ChainAccountReport.self)))
        }
        return ExitStatus.ok
    }

    /// `chain tx submit FILE`: hands a signed transaction to the node's mempool.
    static let chainTx = Command(name: "tx", summary: "tx submit FILE: send a signed transaction to the mempool; prints its id",
                                 arguments: ["submit", "FILE"], details: ChainText.submitDetails) { context in
        let positionals = context.arguments.positionals
        guard positionals.first == "submit" else {
            throw UsageError("'chain tx' takes: submit FILE", command: "chain tx")
        }
        guard positionals.count == 2 else { throw UsageError("'chain tx submit' needs a FILE", command: "chain tx") }
        let path = positionals[1]
        let bytes: [UInt8]
        do throws(SystemError) { bytes = try FileSystem.readRegularFile(path, limit: 1 << 20) } catch {
            try context.error.line("qlinkctl: cannot read \(error)")
            return error.errno == .noEntry ? ExitStatus.noInput : ExitStatus.ioError
        }
        let reply = try await context.call("chain-tx-submit", ["tx": ChainText.transactionHex(fileBytes: bytes)])
        if context.json {
            try context.output.line(reply.result.compactText)
        } else {
            let report = try reply.decode(ChainSubmitReport.self)
            try context.output.line("accepted \(report.id) (\(report.payload) from \(report.sender), nonce \(report.nonce))")
        }
        return ExitStatus.ok
    }

    /// `chain keys`: the station's address on the chain.
    static let chainKeys = Command(name: "keys", summary: "the station's address (its account and producer key) and the chain id") { context in
        let reply = try await context.call("chain-keys")
        if context.json {
            try context.output.line(reply.result.compactText)
        } else {
            let report = try reply.decode(ChainKeysReport.self)
            try context.output.lines(aligned([("address", report.address), ("chain", "\(report.chainName) \(report.chainID)")]))
        }
        return ExitStatus.ok
    }
}

/// Text of the `chain` commands.
enum ChainText {
    static let details = [
        "Asks qlinkd (its control socket). Heights count blocks from the genesis (0); a block is final once",
        "a quorum of producers has certified the block after it (on a single-station chain: one block later).",
        "Amounts are QLC with 8 decimals; `--json` gives balances in base units too (10^8 a QLC).",
    ]

    static let submitDetails = [
        "usage: qlinkctl chain tx submit FILE [--json]",
        "FILE holds one signed transaction in its canonical encoding (Ledger's SignedTransaction.encoded),",
        "written as hex (two digits a byte; spaces and newlines are ignored) or as the raw bytes. The node",
        "checks it against the head's state (fee, nonce, funds, signatures); a refusal names the field at fault",
        "and exits 1. Accepted, it waits in the mempool for the next block; `chain account` shows the effect.",
    ]

    /// The file's bytes as the hex the daemon takes: hex text as is (whitespace removed), anything else encoded.
    static func transactionHex(fileBytes: [UInt8]) -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        let compact = fileBytes.filter { !isSpace($0) }
        let text = String(decoding: compact, as: UTF8.self)
        if !compact.isEmpty, compact.count % 2 == 0, Hex.decode(text) != nil { return text.lowercased() }
        return Hex.encode(fileBytes)
    }

    static func statusLines(_ report: ChainStatusReport) -> [String] {
        var lines: [(String, String)] = [
            ("height", "\(report.height)"),
            ("final", "\(report.finalHeight)"),
            ("head", report.head),
        ]
        for (index, producer) in report.producers.enumerated() {
            lines.append((index == 0 ? "producers" : "", producer))
        }
        if report.producers.isEmpty { lines.append(("producers", "none")) }
        lines.append(("peers", "\(report.peers)"))
        lines.append(("syncing", report.syncing ? "yes (replaying stored blocks)" : "no"))
        return aligned(lines)
    }

    static func blockLines(_ report: ChainBlockReport) -> [String] {
        var lines: [(String, String)] = [
            ("height", "\(report.height)\(report.final ? " (final)" : " (not final)")"),
            ("id", report.id),
            ("parent", report.parent),
            ("time", "\(report.timestampMs) ms (slot \(report.slot))"),
            ("producer", report.producer),
            ("justify", report.justifyHeight.map { "height \($0) \(report.justifyBlock ?? "")" } ?? "none"),
            ("size", "\(report.size) bytes"),
            ("transactions", "\(report.transactions.count)"),
        ]
        for id in report.transactions { lines.append(("", id)) }
        return aligned(lines)
    }

    static func accountLines(_ report: ChainAccountReport) -> [String] {
        aligned([
            ("address", report.address),
            ("balance", "\(report.balance) QLC"),
            ("nonce", "\(report.nonce)"),
            ("votes", report.votes.isEmpty ? "none" : report.votes.joined(separator: ", ")),
            ("at height", "\(report.height)"),
        ])
    }
}
