import Crypto
import Ledger
import Logging
import Posix
import Testing
@testable import Daemon

/// The genesis the daemon runs: created once for a single-station chain, never
/// overwritten, and a bad file named with its field.
struct ChainGenesisTests {
    static let now: UInt64 = 1_795_000_000_123

    static func settings(_ dir: TemporaryDirectory, board: Settings.Board = .sim, singleStation: Bool = false,
                         genesis: String? = nil) -> Settings {
        var settings = Settings()
        settings.stateDirectory = "\(dir.path)/state"
        settings.boardProfile = board
        settings.chain.singleStation = singleStation
        settings.chain.genesisOverride = genesis
        settings.stationName = "roof one"
        return settings
    }

    @Test func onBoardSimASingleStationGenesisIsCreatedOnceAndNeverOverwritten() throws {
        let dir = try TemporaryDirectory()
        let settings = Self.settings(dir)
        let key = SigningKey.generate()
        let station = Address(key.publicKey)
        let first = try ChainGenesis.loadOrCreate(settings: settings, key: key, nowMs: Self.now)
        #expect(first.created)
        #expect(settings.chainGenesisFile == "\(dir.path)/state/chain/genesis.json")
        let genesis = first.genesis
        #expect(genesis.producers.map(\.address) == [station])
        #expect(genesis.producers[0].registration.signingKey == station)
        #expect(genesis.producers[0].registration.name == "roof-one")
        #expect(genesis.allocations == [GenesisAllocation(address: station, amount: .totalSupply)])
        #expect(genesis.timestampMs == 1_795_000_000_000)
        #expect(genesis.parameters.blockIntervalMs == 1000)
        let written = try FileSystem.readFile(settings.chainGenesisFile)
        #expect(try Genesis(json: written).chainID == genesis.chainID)

        // Another start, even with another key and a later clock, loads the same file untouched.
        let second = try ChainGenesis.loadOrCreate(settings: settings, key: SigningKey.generate(), nowMs: Self.now + 60_000)
        #expect(!second.created)
        #expect(second.genesis.chainID == genesis.chainID)
        #expect(try FileSystem.readFile(settings.chainGenesisFile) == written)
    }

    @Test func singleStationYesCreatesOneOnTheRealBoardAndNoCreatesNone() throws {
        let dir = try TemporaryDirectory()
        let key = SigningKey.generate()
        let refused = #expect(throws: ChainGenesis.Failure.self) {
            try ChainGenesis.loadOrCreate(settings: Self.settings(dir, board: .fsm9016), key: key, nowMs: Self.now)
        }
        #expect(refused?.missing == true)
        #expect(refused?.description.contains("single_station = yes") == true)
        #expect(!FileSystem.exists("\(dir.path)/state/chain/genesis.json"))

        let created = try ChainGenesis.loadOrCreate(settings: Self.settings(dir, board: .fsm9016, singleStation: true), key: key, nowMs: Self.now)
        #expect(created.created && created.genesis.producers.count == 1)
    }

    @Test func aConfiguredGenesisIsNeverCreated() throws {
        let dir = try TemporaryDirectory()
        let path = "\(dir.path)/etc/genesis.json"
        let failure = #expect(throws: ChainGenesis.Failure.self) {
            try ChainGenesis.loadOrCreate(settings: Self.settings(dir, genesis: path), key: SigningKey.generate(), nowMs: Self.now)
        }
        #expect(failure?.description == "chain genesis \(path): no such file ([chain] genesis)")
        #expect(!FileSystem.exists(path))
    }

    @Test(arguments: [
        ("\"amount\": \"600000000.00000000\"", "\"amount\": \"0\"", "genesis.allocations[0].amount: must be positive"),
        ("\"blockIntervalMs\": 1000", "\"blockIntervalMs\": 5", "genesis.parameters.blockIntervalMs: 5 outside 100...60000"),
        ("\"chainName\"", "\"chainNam\"", "genesis.chainNam: unknown key"),
    ])
    func anInvalidGenesisIsNamedWithItsFileAndField(original: String, replacement: String, message: String) throws {
        let dir = try TemporaryDirectory()
        let settings = Self.settings(dir)
        let key = SigningKey.generate()
        let text = ChainGenesis.singleStation(key: key, stationName: "x", timestampMs: Self.now).json
        #expect(text.contains(original))
        try FileSystem.createDirectory(settings.chainDirectory)
        try FileSystem.writeDurably(settings.chainGenesisFile, Array(text.replacing(original, with: replacement).utf8))
        let failure = #expect(throws: ChainGenesis.Failure.self) {
            try ChainGenesis.loadOrCreate(settings: settings, key: key, nowMs: Self.now)
        }
        #expect(failure?.description == "chain genesis \(settings.chainGenesisFile): \(message)")
        #expect(failure?.missing == false)
        // The daemon refuses to start on it (the wiring throws this error) rather than replace it.
        #expect(throws: ChainGenesis.Failure.self) {
            try ChainService(settings: settings, key: key, logger: Logger(label: "test", handler: InMemoryLogHandler()))
        }
        #expect(try FileSystem.readFile(settings.chainGenesisFile) == Array(text.replacing(original, with: replacement).utf8))
    }

    @Test func chainKeysParseAndDefaults() throws {
        let defaults = try ConfigSchema.settings(from: [])
        #expect(defaults.chain.enabled && !defaults.chain.singleStation)
        #expect(defaults.chainDirectory == "/var/lib/qlink/chain")
        #expect(defaults.chainGenesisFile == "/var/lib/qlink/chain/genesis.json")
        #expect(!defaults.chainCreatesSingleStationGenesis)
        let text = "[station]\nboard = sim\n[chain]\ndirectory = /data/chain\nmempool_size = 64\n"
        let settings = try ConfigSchema.settings(from: INIFile.parse(text, file: "q.conf"))
        #expect(settings.chainGenesisFile == "/data/chain/genesis.json")
        #expect(settings.chainCreatesSingleStationGenesis)
        #expect(settings.chain.mempoolTransactions == 64)
        #expect(throws: ConfigError.self) { try ConfigSchema.settings(from: INIFile.parse("[chain]\ngenesis = rel.json\n", file: "q.conf")) }
    }
}
