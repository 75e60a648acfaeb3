import CNettle

/// The one file that calls Nettle, for the single legacy digest a peer protocol demands.
enum Nettle {
    static func md5(_ message: [UInt8]) -> [UInt8] {
        var context = md5_ctx()
        nettle_md5_init(&context)
        message.withUnsafeBufferPointer { nettle_md5_update(&context, $0.count, $0.baseAddress) }
        var digest = [UInt8](repeating: 0, count: Int(MD5_DIGEST_SIZE))
        nettle_md5_digest(&context, digest.count, &digest)
        return digest
    }
}

extension Hash {
    /// MD5, only because RADIUS (RFC 2865/2866) authenticates its packets with it.
    /// Never use it for anything this project designs itself.
    public static func radiusMD5(_ message: [UInt8]) -> [UInt8] { Nettle.md5(message) }
}
