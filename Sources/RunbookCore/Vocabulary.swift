// The words every part of the engine shares, as types: a service's kind and state, a run's and a
// step's status, a severity. Their raw values are what records, JSON and people see, and what
// each prints as.

/// What a supervised service is: one of the engine's ZeroMQ flows, or a program it runs.
public enum ServiceKind: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case flow, process

    public var description: String { rawValue }
}

/// The states an operator sees of a supervised service.
public enum ServiceState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case starting, running, failed, stopped
    /// Its restart budget is spent: it stays down until a person acts.
    case gaveUp = "gave-up"

    public var description: String { rawValue }
}

/// Where a run stands.
public enum RunStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case running, succeeded, failed, cancelled, interrupted
    /// Paused at an `approve` step until people answer (the wait is in the records).
    case waiting

    public var description: String { rawValue }
}

/// Where a step's attempt stands.
public enum StepStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case running, succeeded, failed, skipped, cancelled, interrupted

    public var description: String { rawValue }
}

/// How bad: of an incident, a notification, a check's state.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case info, warning, critical

    public static func < (a: Severity, b: Severity) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    public var description: String { rawValue }
}
