/// Where the flows bind and connect. Defaults are the back end's ports.
public struct FlowEndpoints: Sendable, Equatable {
    public var telemetryIn = "tcp://*:5556"
    public var telemetryOut = "tcp://*:5560"
    public var signals = "tcp://127.0.0.1:5557"
    public var commandQueue = "ipc:///tmp/runbook_cmdqueue"
    public var router = "tcp://*:5555"
    public var confirmations = "tcp://*:5558"
    /// Each recorded signal is also POSTed here as JSON, when set.
    public var signalForwardURL: String?
    /// Who may connect to the endpoints the flows bind (`security:`).
    public var security = FlowSecurity()

    public init() {}

    static let keys = ["telemetry_in", "telemetry_out", "signals", "command_queue", "router", "confirmations", "signal_forward_url", "security"]

    /// The address a client on this machine connects to for an endpoint the engine binds.
    public static func local(_ endpoint: String) -> String {
        endpoint.replacingOccurrences(of: "tcp://*:", with: "tcp://127.0.0.1:").replacingOccurrences(of: "tcp://0.0.0.0:", with: "tcp://127.0.0.1:")
    }
}

/// An external program the engine runs and restarts (`processes:` in runbook.yaml).
public struct ProcessSettings: Sendable, Equatable {
    public var name: String
    public var command: String
    public var args: [String] = []
    public var env: [String: String] = [:]
    public var cwd: String?
    public var ports: [Int] = []
    public var stopTimeout: Duration = .seconds(10)
    /// Its own restart policy; the engine's `restart:` when nil.
    public var restart: RestartSettings?

    static let keys = ["name", "command", "args", "env", "cwd", "ports", "stop_timeout", "restart"]
}

/// The restart policy of the engine's services (`restart:` in runbook.yaml).
public struct RestartSettings: Sendable, Equatable {
    public var wait: Duration = .seconds(30)
    public var maxWait: Duration = .seconds(300)
    public var budget = 3
    public var window: Duration = .seconds(3600)
    public var stableAfter: Duration = .seconds(3600)

    static let keys = ["wait", "max_wait", "budget", "window", "stable_after"]
}
