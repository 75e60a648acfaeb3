import HAL
#if canImport(Glibc)
import Glibc
#endif

/// One simulated person with a device: a Wi-Fi station (a MAC) or a cellular UE (an IMSI),
/// a fixed profile drawn from the seed, a schedule of wanting to be online, and (while
/// associated or attached) a session.
struct Subscriber: Sendable {
    /// How the subscriber reaches the cell.
    enum Access: Sendable, Equatable {
        case wifi(MACAddress)
        case lte(imsi: String)
    }

    let id: SubscriberID
    let access: Access
    /// Bytes per simulated second to and from the subscriber at tide level 1, before the scenario's scale.
    let downRate: Double
    let upRate: Double
    let signalDBm: Int
    var random: SimRandom

    /// Whether the subscriber is in one of its online spells right now.
    var wantsOnline = false
    /// Simulated time of the next arrival (when away) or departure (when online).
    var nextChange: Double = 0
    /// It will not try to associate or attach before this simulated time (after being kicked
    /// off, rejected, or while the AP or the radio comes back).
    var notBefore: Double = 0
    /// The per-station passphrase its device holds, once one was provisioned for its MAC.
    var knownKey: String?
    var session: Session?
    var everConnected = false
    /// Ground truth: every byte it really sent and received, over all its sessions.
    var truthUp: UInt64 = 0
    var truthDown: UInt64 = 0

    /// The Wi-Fi station's address (nil for a UE).
    var mac: MACAddress? {
        if case .wifi(let mac) = access { return mac }
        return nil
    }

    /// The UE's IMSI (nil for a Wi-Fi station).
    var imsi: String? {
        if case .lte(let imsi) = access { return imsi }
        return nil
    }

    var isLTE: Bool { imsi != nil }

    /// The random stream of UE number `index` (far from the Wi-Fi streams, so adding UEs never
    /// changes a station's schedule).
    static func ueStream(_ index: Int) -> UInt64 { 0x1_0000_0000 + UInt64(index) }

    /// Draws the profile of Wi-Fi subscriber number `index` under `seed`; `taken` keeps MACs unique.
    init(index: Int, seed: UInt64, taken: inout Set<MACAddress>) {
        var random = SimRandom(seed: seed, stream: UInt64(index))
        var mac: MACAddress
        repeat {
            let value = random.next()
            // 02: locally administered, unicast.
            mac = MACAddress(bytes: [0x02] + (0..<5).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) })!
        } while !taken.insert(mac).inserted
        access = .wifi(mac)
        id = .mac(mac)
        downRate = random.logUniform(5_000, 2_500_000)
        upRate = downRate * random.uniform(0.05, 0.35)
        signalDBm = Int(random.uniform(-82, -38))
        self.random = random
    }

    /// Draws the profile of UE number `index` under `seed`: an IMSI of the cell's network
    /// (`mccmnc` followed by ten digits from the seed, unique through `taken`) and a cellular
    /// data rate (log-uniform, 2 kB/s to 500 kB/s down at tide level 1).
    init(ueIndex index: Int, seed: UInt64, mccmnc: String, taken: inout Set<String>) {
        var random = SimRandom(seed: seed, stream: Self.ueStream(index))
        var imsi: String
        repeat {
            let digits = String(random.next() % 10_000_000_000)
            imsi = mccmnc + String(repeating: "0", count: 10 - digits.count) + digits
        } while !taken.insert(imsi).inserted
        access = .lte(imsi: imsi)
        id = SubscriberID.imsi(imsi)!
        downRate = random.logUniform(2_000, 500_000)
        upRate = downRate * random.uniform(0.05, 0.35)
        signalDBm = Int(random.uniform(-100, -60))
        self.random = random
    }
}

/// One association of a station with the AP, or one attachment of a UE to the radio, as
/// the driver (or OpenBTS) counts it.
struct Session: Sendable {
    let startSim: Double
    /// The world's real clock at the start: `connected_time` and OpenBTS's `age` are real
    /// seconds since, as the daemon compares them with its own monotonic clock.
    let startReal: Double
    /// The tide's cumulative integral at the start: traffic is a function of the integral since.
    let startCumulative: Double
    /// This session's intensity relative to the subscriber's usual rate.
    let multiplier: Double
    /// The station's association id (0 for a UE).
    let aid: Int
    /// The per-station passphrase and its keyid, when the station used one.
    let key: String?
    let keyID: String?
    /// What OpenBTS keeps about an attached UE (nil for a Wi-Fi station).
    var link: UELink?
    /// Exact bytes moved in this session (never wrapped), wrap32 bursts included.
    var upBytes: UInt64 = 0
    var downBytes: UInt64 = 0
    /// The part of `upBytes`/`downBytes` that wrap32 bursts moved (ordinary traffic is the rest).
    var burstUpBytes: UInt64 = 0
    var burstDownBytes: UInt64 = 0
    /// A wrap32 burst in progress: extra real traffic that carries the counters past 2^32.
    var burst: WrapBurst?
    /// What the driver adds to the exact counts before truncating to its width (wrapping
    /// arithmetic): only a counter reset moves these, never the exact counts.
    var upAdjust: UInt64 = 0
    var downAdjust: UInt64 = 0
    var upPacketAdjust: UInt64 = 0
    var downPacketAdjust: UInt64 = 0
    /// hostapd's Acct-Session-Id for this session (RADIUS accounting; 0 for a UE).
    var accountingID: UInt64 = 0

    /// Average frame sizes used to derive packet counts from byte counts.
    static let upFrameBytes: UInt64 = 220
    static let downFrameBytes: UInt64 = 1_100

    var upPackets: UInt64 { upBytes / Self.upFrameBytes }
    var downPackets: UInt64 { downBytes / Self.downFrameBytes }
}

/// Extra traffic injected by `wrap32`: `up`/`down` bytes moved evenly over `duration`
/// simulated seconds from `start`, counted like any other byte (counters, packets, truth).
struct WrapBurst: Sendable, Equatable {
    /// Simulated time the burst began.
    let start: Double
    /// Simulated seconds it lasts (the requested real seconds times the world's speed).
    let duration: Double
    /// Bytes the whole burst moves, each way.
    let up: UInt64
    let down: UInt64
    /// Bytes moved so far.
    var upMoved: UInt64 = 0
    var downMoved: UInt64 = 0

    /// How many of `total` bytes are due by simulated time `t` (a function of `t` alone, so
    /// tick size does not matter).
    func due(_ total: UInt64, at t: Double) -> UInt64 {
        guard duration > 0, t < start + duration else { return total }
        return min(total, UInt64(Double(total) * (max(0, t - start) / duration)))
    }

    var isFinished: Bool { upMoved == up && downMoved == down }
}

/// Why a session ended.
public enum SessionEnd: String, Sendable, Equatable {
    /// The subscriber left by itself (its schedule).
    case left
    /// The network threw it off (a deauthentication, a detach, a revoked key).
    case kicked
    /// Its source went away with it: hostapd stopped or the AP was disabled, OpenBTS stopped.
    case sourceStopped = "source-stopped"
}

/// A finished session, kept (a bounded number of them) so tests can compare truth with sessions.
struct SessionRecord: Sendable, Equatable {
    let id: SubscriberID
    let upBytes: UInt64
    let downBytes: UInt64
    /// Simulated seconds it began and ended.
    let started: Double
    let ended: Double
    let cause: SessionEnd

    /// `{"id":…,"kind":…,"started":…,"ended":…,"cause":…,"up_bytes":N,"down_bytes":N}`.
    var json: String {
        "{\"id\":\(jsonString(id.description)),\"kind\":\(jsonString(id.kind)),\"started\":\(formatNumber(started)),"
            + "\"ended\":\(formatNumber(ended)),\"cause\":\(jsonString(cause.rawValue)),\"up_bytes\":\(upBytes),\"down_bytes\":\(downBytes)}"
    }
}

/// A small deterministic random number generator (SplitMix64): the same seed gives the
/// same sequence on every machine, which is what makes a scenario's schedule repeatable.
public struct SimRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// An independent stream for `index` under `seed` (one per subscriber, so the order in
    /// which subscribers draw numbers never changes anyone else's schedule).
    public init(seed: UInt64, stream index: UInt64) {
        var mixer = SimRandom(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        var indexMixer = SimRandom(seed: index &* 0xD6E8_FEB8_6659_FD93)
        state = mixer.next() ^ indexMixer.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * unit()
    }

    /// Log-uniform in [low, high): as many values in each decade of the range.
    public mutating func logUniform(_ low: Double, _ high: Double) -> Double {
        exp(log(low) + (log(high) - log(low)) * unit())
    }

    /// Exponentially distributed with `mean` (memoryless waiting times).
    public mutating func exponential(mean: Double) -> Double {
        -mean * log(1 - unit())
    }

    /// A stateless hash of a few numbers to [0, 1), for jitter that must not consume the stream.
    public static func hashUnit(_ values: UInt64...) -> Double {
        var generator = SimRandom(seed: 0x2545_F491_4F6C_DD1D)
        var mixed: UInt64 = 0
        for value in values {
            generator.state ^= value
            mixed ^= generator.next()
        }
        return Double(mixed >> 11) * 0x1p-53
    }
}
