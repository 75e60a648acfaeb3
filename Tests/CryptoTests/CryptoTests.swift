import Testing
@testable import Crypto

/// RFC 8032 section 7.1 test vectors.
struct Ed25519Vectors {
    struct Vector: Sendable {
        let seed, publicKey, message, signature: String
    }

    static let vectors = [
        Vector(seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
               publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
               message: "",
               signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        Vector(seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
               publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
               message: "72",
               signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        Vector(seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
               publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
               message: "af82",
               signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ]

    @Test(arguments: vectors)
    func signsAndVerifiesLikeRFC8032(_ vector: Vector) throws {
        let key = try #require(SigningKey(seed: Hex.decode(vector.seed)!))
        #expect(key.publicKey.description == vector.publicKey)
        let message = Hex.decode(vector.message)!
        let signature = key.sign(message)
        #expect(Hex.encode(signature) == vector.signature)
        #expect(key.publicKey.verify(signature, for: message))
        var forged = signature
        forged[0] ^= 1
        #expect(!key.publicKey.verify(forged, for: message))
        #expect(!key.publicKey.verify(signature, for: message + [0]))
    }

    @Test func generatedKeysDiffer() {
        #expect(SigningKey.generate().seed != SigningKey.generate().seed)
    }

    @Test func rejectsBadLengths() {
        #expect(SigningKey(seed: [1, 2, 3]) == nil)
        #expect(PublicKey(bytes: [UInt8](repeating: 0, count: 31)) == nil)
    }
}

struct HashVectors {
    /// RFC 7693 appendix A: BLAKE2b-512("abc").
    @Test func blake2bMatchesRFC7693() {
        #expect(Hex.encode(Hash.blake2b(Array("abc".utf8), length: 64)) ==
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
    }

    /// BLAKE2b-256 of the empty string, the digest size the chain uses.
    @Test func blake2b256OfEmpty() {
        #expect(Hex.encode(Hash.blake2b([], length: 32)) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
    }

    @Test func sha256OfABC() {
        #expect(Hex.encode(Hash.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hexRoundTripsAndRejects() {
        #expect(Hex.decode("00ffA0") == [0, 255, 160])
        #expect(Hex.decode("0") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.encode([0, 255, 160]) == "00ffa0")
    }
}

struct LegacyDigestTests {
    /// RFC 1321 appendix A.5.
    @Test func md5MatchesRFC1321() {
        #expect(Hex.encode(Hash.radiusMD5([])) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(Hex.encode(Hash.radiusMD5(Array("message digest".utf8))) == "f96b697d7cb7938d525a2f31aaf161d0")
    }
}
