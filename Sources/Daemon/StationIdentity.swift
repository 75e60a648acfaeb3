import Crypto
import Posix

/// The station's Ed25519 key: created on first start (mode 0600), never overwritten.
///
/// The file holds the 32-byte seed as 64 hex digits and a newline. A file that exists but
/// does not hold a key stops the daemon: the key is the station's identity on the chain,
/// so a damaged one must be looked at by a person, not replaced.
public enum StationIdentity {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Loads the key at `path`, creating it if there is no file; `created` says which.
    public static func loadOrCreate(path: String) throws(Failure) -> (key: SigningKey, created: Bool) {
        if FileSystem.exists(path) { return (try load(path: path), false) }
        let key = SigningKey.generate()
        do {
            try FileSystem.createDirectory(FileSystem.parent(of: path), mode: 0o750)
            try FileSystem.writeDurably(path, Array((Hex.encode(key.seed) + "\n").utf8), mode: 0o600, replace: false)
        } catch let error where error.errno == .exists {
            // Another process created it between our check and our link: use theirs.
            return (try load(path: path), false)
        } catch {
            throw Failure(description: "cannot create station key: \(error)")
        }
        return (key, true)
    }

    public static func load(path: String) throws(Failure) -> SigningKey {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch { throw Failure(description: "cannot read station key: \(error)") }
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace().trimmingCharacters(in: "\n")
        guard let seed = Hex.decode(text), let key = SigningKey(seed: seed) else {
            throw Failure(description: "\(path): not a station key (expected 64 hex digits); refusing to replace it")
        }
        return key
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
