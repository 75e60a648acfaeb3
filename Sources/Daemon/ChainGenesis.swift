import Crypto
import Ledger
import Posix

/// The chain's genesis as the daemon finds it: the configured file, or `genesis.json` in
/// the chain directory, created once as a single-station chain when allowed.
///
/// A single-station genesis names the station's own key as the only producer (account and
/// signing key alike) and the holder of the whole supply, 600,000,000 QLC; its parameters
/// are the main chain's (`ChainParameters.standard`: 1 s blocks) and its time is the moment
/// it was written. It is written with `FileSystem.writeDurably(replace: false)`, so an
/// existing file is never touched: the genesis fixes the chain id, and a new one would
/// orphan every stored block.
public enum ChainGenesis {
    /// Why the genesis cannot be used; the text names the file and, for a bad file, the field.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        /// The file does not exist and may not be created: the node cannot start, but the
        /// rest of the daemon can.
        public let missing: Bool

        public var description: String { "chain genesis \(path): \(reason)" }
    }

    /// The genesis at `settings.chainGenesisFile`; when it does not exist and
    /// `settings.chainCreatesSingleStationGenesis`, a single-station genesis of `key`
    /// written there first. `created` says which. `nowMs`: the time to give a new genesis.
    public static func loadOrCreate(settings: Settings, key: SigningKey,
                                    nowMs: UInt64) throws(Failure) -> (genesis: Genesis, created: Bool) {
        let path = settings.chainGenesisFile
        if FileSystem.exists(path) { return (try load(path: path), false) }
        guard settings.chainCreatesSingleStationGenesis else {
            let hint = settings.chain.genesisOverride == nil
                ? "no such file (set [chain] genesis = FILE, or [chain] single_station = yes for a chain of this station alone)"
                : "no such file ([chain] genesis)"
            throw Failure(path: path, reason: hint, missing: true)
        }
        let genesis = singleStation(key: key, stationName: settings.stationName, timestampMs: nowMs)
        do {
            try FileSystem.createDirectory(FileSystem.parent(of: path), mode: 0o750)
            try FileSystem.writeDurably(path, Array(genesis.json.utf8), mode: 0o644, replace: false)
        } catch let error where error.errno == .exists {
            // Someone wrote it between our check and our link: theirs stands.
            return (try load(path: path), false)
        } catch {
            throw Failure(path: path, reason: "cannot create: \(error)", missing: false)
        }
        return (genesis, true)
    }

    /// Reads and validates a genesis file; errors name the field (`genesis.allocations[0].amount: ...`).
    public static func load(path: String) throws(Failure) -> Genesis {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readRegularFile(path, limit: Genesis.maxFileBytes) } catch {
            throw Failure(path: path, reason: "cannot read: \(error)", missing: false)
        }
        do { return try Genesis(json: bytes) } catch {
            throw Failure(path: path, reason: error.description, missing: false)
        }
    }

    /// The genesis of a chain this station runs alone: `key` is the only producer and holds
    /// the whole supply. Its time is `timestampMs` rounded down to the second.
    public static func singleStation(key: SigningKey, stationName: String, timestampMs: UInt64) -> Genesis {
        let station = Address(key.publicKey)
        let registration = ProducerRegistration(name: producerName(stationName), url: "", signingKey: station)
        let name = "qlink-single-" + String(station.description.prefix(8))
        // Every part is valid by construction: one allocation of exactly the supply, one
        // producer with a printable name, the standard parameters.
        return try! Genesis(chainName: name, timestampMs: timestampMs - timestampMs % 1000, parameters: .standard,
                            allocations: [GenesisAllocation(address: station, amount: .totalSupply)],
                            producers: [GenesisProducer(address: station, registration: registration)])
    }

    /// The station's name as a producer name: printable ASCII, 1-32 characters.
    static func producerName(_ stationName: String) -> String {
        let cleaned = String(stationName.unicodeScalars.prefix(Limits.producerNameLimits.upperBound).map { scalar in
            (0x21...0x7E).contains(scalar.value) ? Character(scalar) : "-"
        })
        return cleaned.isEmpty ? "station" : cleaned
    }
}
