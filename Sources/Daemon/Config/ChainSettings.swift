/// `[chain]`: the node of the Qlink chain this station runs.
///
/// The genesis decides the chain (its id, producers, block interval); the config only says
/// where it and the node's files are. With no `genesis` key the node uses
/// `DIRECTORY/genesis.json`; when that file does not exist and the board is `sim` or
/// `single_station = yes`, qlinkd writes a single-station genesis there once (the station's
/// own key is the only producer and holds the whole supply) and never overwrites it.
public struct ChainSettings: Sendable, Equatable {
    /// Run the node at all.
    public var enabled = true
    /// The genesis file (JSON, see Ledger's `GenesisFile.swift`); nil: `DIRECTORY/genesis.json`.
    public var genesisOverride: String?
    /// Where the block log, the state, the vote record and the genesis live; nil: `STATE/chain`.
    public var directoryOverride: String?
    /// Create a single-station genesis when there is none (always so on board `sim`).
    public var singleStation = false
    /// Transactions the mempool holds at most.
    public var mempoolTransactions = 4096

    public init() {}
}

extension Settings {
    /// The chain node's directory: `[chain] directory`, else `chain` in the state directory.
    public var chainDirectory: String { chain.directoryOverride ?? "\(stateDirectory)/chain" }
    /// The genesis file: `[chain] genesis`, else `genesis.json` in the chain directory.
    public var chainGenesisFile: String { chain.genesisOverride ?? "\(chainDirectory)/genesis.json" }
    /// Whether a missing genesis is created as a single-station chain.
    public var chainCreatesSingleStationGenesis: Bool {
        chain.genesisOverride == nil && (chain.singleStation || boardProfile == .sim)
    }
}

extension ConfigSchema {
    static let chainKeys: [Key] = [
        Key(section: "chain", name: "enabled", defaultValue: "yes", summary: "run the node of the Qlink chain") { s, v throws(ConfigError) in
            s.chain.enabled = try boolean(v)
        },
        Key(section: "chain", name: "genesis", defaultValue: "",
            summary: "the chain's genesis file (JSON); default DIRECTORY/genesis.json, created on board sim or with single_station = yes") { s, v throws(ConfigError) in
            s.chain.genesisOverride = v.isEmpty ? nil : try absolutePath(v)
        },
        Key(section: "chain", name: "directory", defaultValue: "",
            summary: "blocks, state, vote record and genesis of the node (default: STATE/chain)") { s, v throws(ConfigError) in
            s.chain.directoryOverride = v.isEmpty ? nil : try absolutePath(v)
        },
        Key(section: "chain", name: "single_station", defaultValue: "no",
            summary: "with no genesis file, create one naming this station the only producer and holder of all 600,000,000 QLC (always on board sim)") { s, v throws(ConfigError) in
            s.chain.singleStation = try boolean(v)
        },
        Key(section: "chain", name: "mempool_size", defaultValue: "4096",
            summary: "transactions waiting for a block, at most; more are refused") { s, v throws(ConfigError) in
            s.chain.mempoolTransactions = try integer(v, in: 16...65536)
        },
    ]
}
