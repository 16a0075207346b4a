import Foundation

/// One supervised service as the running engine sees it.
public struct ServiceSnapshot: Sendable, Codable, Equatable {
    public var name: String
    public var kind: ServiceKind
    public var state: ServiceState
    /// Restarts within the restart policy's window (an hour by default).
    public var restarts: Int
    public var since: Date
    public var ports: [Int]
    /// Nil when the unit is up with its ports bound; otherwise what is wrong.
    public var problem: String?
    public var lastError: String?
    public var received: Int?
    public var sent: Int?
    public var malformed: [String: Int]?
    public var ticksBySymbol: [String: Int]?
    public var lastMessageAt: Date?
    /// Peers connected to the service's ROUTER, and those that sent a heartbeat lately.
    public var peers: Int?
    public var identifiedPeers: Int?
    /// Peers the flow refused (no or an unknown CURVE key, an address outside the allowlist, a
    /// routing id their key may not use), by reason.
    public var refused: [String: Int]?

    public init(
        name: String, kind: ServiceKind, state: ServiceState, restarts: Int, since: Date, ports: [Int], problem: String? = nil, lastError: String? = nil,
        received: Int? = nil, sent: Int? = nil, malformed: [String: Int]? = nil, ticksBySymbol: [String: Int]? = nil, lastMessageAt: Date? = nil
    ) {
        self.name = name
        self.kind = kind
        self.state = state
        self.restarts = restarts
        self.since = since
        self.ports = ports
        self.problem = problem
        self.lastError = lastError
        self.received = received
        self.sent = sent
        self.malformed = malformed
        self.ticksBySymbol = ticksBySymbol
        self.lastMessageAt = lastMessageAt
    }

    /// Running, and verified: its ports bound by it.
    public var isUp: Bool { state == .running && problem == nil }
}

/// The flows' records kept through an outage of the records: waiting in the spool now, written
/// from it since the engine started, and refused by the records when written.
public struct FlowRecordsSnapshot: Sendable, Codable, Equatable {
    public var waiting: Int
    public var replayed: Int
    public var refused: Int

    public init(waiting: Int, replayed: Int, refused: Int) {
        self.waiting = waiting
        self.replayed = replayed
        self.refused = refused
    }
}

/// What the tick ingest has done since the engine started.
public struct TickSnapshot: Sendable, Codable, Equatable {
    public var received: Int
    public var stored: Int
    public var spooled: Int
    public var replayed: Int
    public var invalid: Int
    public var dropped: Int
    /// When the bridge last relayed a tick.
    public var lastTickAt: Date?
    /// Ticks relayed in the last minute.
    public var lastMinute: Int

    public init(received: Int = 0, stored: Int = 0, spooled: Int = 0, replayed: Int = 0, invalid: Int = 0, dropped: Int = 0, lastTickAt: Date? = nil, lastMinute: Int = 0) {
        self.received = received
        self.stored = stored
        self.spooled = spooled
        self.replayed = replayed
        self.invalid = invalid
        self.dropped = dropped
        self.lastTickAt = lastTickAt
        self.lastMinute = lastMinute
    }
}

/// The running engine at one instant: what `runbook up` writes to its state file each second.
public struct EngineSnapshot: Sendable, Codable, Equatable {
    public var pid: Int
    public var startedAt: Date
    public var updatedAt: Date
    public var services: [ServiceSnapshot]
    public var ticks: TickSnapshot?
    /// Set while flows bound beyond loopback accept anyone: the warning, naming them.
    public var exposure: String?
    /// The simulated EAs `runbook up --simulate` made canaries (its ea-01, when the
    /// configuration marks none), so that a check run from a shell sends to the same. Only
    /// simulated ones: a real EA is a canary by the configuration alone.
    public var simulatedCanaries: [String]?
    /// The flows' records spooled through an outage of the records; nil where none are kept.
    public var flowRecords: FlowRecordsSnapshot?

    public init(pid: Int, startedAt: Date, updatedAt: Date, services: [ServiceSnapshot], ticks: TickSnapshot?) {
        self.pid = pid
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.services = services
        self.ticks = ticks
    }

    public func service(_ name: String) -> ServiceSnapshot? {
        services.first { $0.name == name }
    }

    /// The encoder and decoder of the state file: snake_case keys, ISO 8601 times.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Self.timeFormat.string(from: date))
        }
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Self.timeFormat.date(from: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO 8601 time"))
            }
            return date
        }
        return decoder
    }

    private static var timeFormat: ISO8601DateFormatter { ISO8601DateFormatter() }
}

/// The engine's services as checks and steps reach them: in the engine itself, or from another
/// process through the engine's state file and control socket.
public protocol EngineControl: Sendable {
    /// The services now; throws `EngineUnavailable` when no engine is running.
    func snapshot() async throws -> EngineSnapshot
    /// Restarts a service or supervised program through its supervisor (budget honoured,
    /// restart verified). Throws `RestartRefused` with the reason when it is not up afterwards.
    func restart(_ service: String) async throws
    /// The names of the services that can be restarted.
    func serviceNames() async throws -> [String]
}

/// No engine answers: not started, or stopped.
public struct EngineUnavailable: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A restart that did not leave the service up, or was not allowed.
public struct RestartRefused: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
