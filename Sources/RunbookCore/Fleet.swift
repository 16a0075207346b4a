import Foundation

/// Whether this engine may do the duties only one engine of a fleet does: the scheduler's fires,
/// the outbox's delivery, incident climbs and the shared checks.
public protocol Leadership: Sendable {
    var isLeading: Bool { get }
}

/// The one engine of records no other engine shares: it always leads.
public struct SoleEngine: Leadership {
    public init() {}
    public var isLeading: Bool { true }
}

/// Where engines sharing the records take the lease that makes one of them the leader, and say
/// that they are alive.
public protocol FleetStore: Sendable {
    /// Takes the lease for `engine` for `ttl` when it is free or expired, or renews it when
    /// `engine` holds it: the term held (a new term each time the lease changes hands or had
    /// expired), or nil when another engine holds it. The lease's expiry is the server's time.
    func lead(engine: String, ttl: Duration) async throws -> Int64?
    /// Gives the lease up when `engine` holds it, so that a standby need not wait for it to expire.
    func release(engine: String) async throws
    /// Writes `beat` as the engine's row, the time being the server's. Returns the host and pid of
    /// another live process that wrote the row since this process last did: two engines given the
    /// same name (nil for the first beat, which may follow a killed predecessor's).
    func beat(_ beat: EngineBeat) async throws -> String?
    /// Marks `engine` stopped on purpose: it beats no more, and nobody is paged for it.
    func leave(engine: String) async throws
    /// Marks as `interrupted` the runs left `running` by engines other than `besides` that have
    /// not beaten for `silentFor` (dead, or stopped without ending them); their ids.
    func interruptRuns(ofEnginesSilentFor silentFor: Duration, besides: String) async throws -> [Int64]
    /// Every engine that has beaten, by name, with the lease's holder marked.
    func members() async throws -> [FleetMember]
}

/// What an engine says of itself at each beat.
public struct EngineBeat: Sendable, Equatable {
    public var name: String
    public var host: String
    public var pid: Int32
    public var version: String
    public var startedAt: Date
    /// Flows running, of those configured.
    public var flowsUp: Int
    public var flowsTotal: Int

    public init(name: String, host: String, pid: Int32, version: String, startedAt: Date, flowsUp: Int, flowsTotal: Int) {
        self.name = name
        self.host = host
        self.pid = pid
        self.version = version
        self.startedAt = startedAt
        self.flowsUp = flowsUp
        self.flowsTotal = flowsTotal
    }
}

/// One engine of the fleet, as the records last heard of it.
public struct FleetMember: Sendable, Equatable {
    public var beat: EngineBeat
    public var lastBeat: Date
    /// Seconds since its last beat, by the server's clock.
    public var silentFor: Double
    /// Whether it holds an unexpired lease.
    public var leading: Bool
    /// The lease's term when it leads.
    public var term: Int64?
    /// It stopped on purpose (`leave`), and has not beaten since.
    public var stopped: Bool

    public init(beat: EngineBeat, lastBeat: Date, silentFor: Double, leading: Bool, term: Int64?, stopped: Bool = false) {
        self.stopped = stopped
        self.beat = beat
        self.lastBeat = lastBeat
        self.silentFor = silentFor
        self.leading = leading
        self.term = term
    }

    public var role: String { leading ? "leader" : stopped ? "stopped" : "standby" }
}

/// This build's version, as the fleet shows it.
public enum Release {
    public static let version = "0.2.0"
}
