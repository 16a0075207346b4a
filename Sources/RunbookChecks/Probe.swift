import Foundation
import RunbookCore
import RunbookModel
import RunbookSteps

/// A kind of measurement a check makes. To add one, write a type conforming to this protocol and
/// register it in a `ProbeRegistry`.
public protocol Probe: Sendable {
    static var spec: ProbeSpec { get }
    /// Reads the check's inputs; throws when they cannot be used.
    init(inputs: [String: Value]) throws(ProbeInputError)
    /// Measures once.
    func read(in environment: EngineServices) async throws -> ProbeReading
}

/// What a probe measured.
public struct ProbeReading: Sendable, Equatable {
    /// The number thresholds compare; nil when there is nothing to compare (then `status` says).
    public var value: Double?
    /// The value for people: `312s`, `3 of 4 ports bound`.
    public var text: String
    /// What the value is about when a probe looks at several (the EA, the symbol, the file).
    public var subject: String?
    /// A status the probe decides itself, whatever the thresholds: a port no program answers
    /// on, too few trades to judge.
    public var status: CheckStatus?

    public init(value: Double?, text: String, subject: String? = nil, status: CheckStatus? = nil) {
        self.value = value
        self.text = text
        self.subject = subject
        self.status = status
    }
}

/// A probe input that does not fit.
public struct ProbeInputError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A measurement that could not be made: the check reports `unknown` with this reason.
public struct ProbeFailure: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What probes need of what the engine offers.
extension EngineServices {
    func requireEngine() throws -> any EngineControl {
        guard let engine else { throw ProbeFailure("no engine to ask: run `runbook up`") }
        return engine
    }

    public func requireRecords() throws -> any HealthRecords {
        guard let records else { throw ProbeFailure("no records database: run `runbook up` first") }
        return records
    }
}

/// The probe kinds a build offers, by name.
public struct ProbeRegistry: ProbeCatalog {
    private var types: [String: any Probe.Type] = [:]

    public init(_ types: [any Probe.Type] = []) {
        for type in types { register(type) }
    }

    public mutating func register(_ type: any Probe.Type) {
        precondition(types[type.spec.name] == nil, "probe \(type.spec.name) registered twice")
        types[type.spec.name] = type
    }

    public func merging(_ other: ProbeRegistry) -> ProbeRegistry {
        var merged = self
        for type in other.types.values { merged.register(type) }
        return merged
    }

    public func probeSpec(named name: String) -> ProbeSpec? { types[name]?.spec }

    public var probeNames: [String] { types.keys.sorted() }

    public func make(_ config: ProbeConfig) throws(ProbeInputError) -> any Probe {
        guard let type = types[config.kind] else { throw ProbeInputError("unknown probe '\(config.kind)'") }
        return try type.init(inputs: config.inputs)
    }

    /// The probes of the operating system and of the engine; the records' and HTTP's come from
    /// their adapters.
    public static let core = ProbeRegistry([
        ServiceProbe.self, RestartsProbe.self, RouterPeersProbe.self, PortProbe.self, ProcessProbe.self, FileAgeProbe.self, DiskFreeProbe.self, CPUProbe.self,
        MemoryProbe.self, HeartbeatProbe.self, FreshnessProbe.self, RateProbe.self, WinRateProbe.self, QueueDepthProbe.self,
        TickStoreProbe.self, EngineHeartbeatProbe.self, ReconciliationProbe.self,
    ])
}

extension [String: Value] {
    /// A probe input as text (numbers written as such too).
    public func text(_ key: String) -> String? {
        if case .string(let text)? = self[key] { return text }
        if case .number(let number)? = self[key] { return Int64(exactly: number).map(String.init) ?? String(number) }
        return nil
    }

    public func texts(_ key: String) -> [String] {
        switch self[key] {
        case .list(let items)?: return items.compactMap { if case .string(let text) = $0 { text } else { nil } }
        case .string(let text)?: return [text]
        default: return []
        }
    }

    public func number(_ key: String) -> Double? {
        if case .number(let number)? = self[key] { return number }
        return nil
    }

    public func duration(_ key: String) -> Duration? {
        if case .duration(let duration)? = self[key] { return duration }
        return nil
    }
}
