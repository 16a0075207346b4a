import Foundation
import Yams

/// Where the engine keeps its data and finds its documents.
///
/// Keys of `runbook.yaml` (all optional; relative paths are read against the file's folder):
/// - `data_dir`: folder for the records database and other state (default `var`)
/// - `database`: the records database (default `DATA_DIR/runbook.db`)
/// - `runbooks`, `checks`, `schedules`: folders of YAML documents (default `Runbooks`, `Checks`, `Schedules`)
/// - `flows`: endpoints (`telemetry_in`, `telemetry_out`, `signals`, `command_queue`, `router`,
///   `confirmations`), `signal_forward_url` and `security` (who may connect; see `FlowSecurity`)
/// - `processes`: programs to supervise, each with `name`, `command`, `args`, `env`, `cwd`, `ports`, `stop_timeout`
/// - `restart`: the services' restart policy: `wait`, `max_wait`, `budget`, `window`, `stable_after`
/// - `server_time_zone`: the IANA zone bars are aligned in, as the MT5 server's (default `UTC`)
/// - `market`: `holidays`, New York dates `YYYY-MM-DD` on which forex does not trade
/// - `channels`: notification channels by name, of the types in the `ChannelCatalog` given to `load`; see `ChannelSettings`
/// - `escalation`: `cooldown`, `levels` (2-4: `channels`, `climb_after`), `fallback`, `fallback_after`, `retry`
/// - `http`: the HTTP server: `enabled`, `listen` (default `127.0.0.1:8080`), `token_env`, `allowed_hosts`, `idle_timeout`; see `HTTPSettings`
/// - `ticks`: tick storage: `sync_interval` (default 200ms); see `TickSettings`
/// - `store`, `records`: where ticks and records are kept: `backend` (`sqlite` or `postgresql`), `url_env`
/// - `engine`: `name`, this engine's among those sharing the records (default the host name)
///
/// Environment variables override the file: `RUNBOOK_DATA_DIR`, `RUNBOOK_DATABASE`, `RUNBOOK_RUNBOOKS`,
/// `RUNBOOK_CHECKS`, `RUNBOOK_SCHEDULES`.
public struct EngineConfig: Sendable {
    public var dataDirectory: String = "var"
    public var database: String?
    public var runbooksDirectory: String = "Runbooks"
    public var checksDirectory: String = "Checks"
    public var schedulesDirectory: String = "Schedules"
    public var flows = FlowEndpoints()
    public var processes: [ProcessSettings] = []
    public var restart = RestartSettings()
    /// The zone bars are aligned in.
    public var serverTimeZone = "UTC"
    /// When the market trades, for `during: market` checks and market-relative schedules.
    public var market = MarketCalendar()
    /// Levels, cooldown and fallbacks of incidents (`escalation:`).
    public var escalation = EscalationPolicy()
    /// Where notifications go (`channels:`), by name.
    public var channels: [ChannelSettings] = []
    /// The HTTP server (`http:`).
    public var http = HTTPSettings()
    /// Tick storage (`ticks:`).
    public var ticks = TickSettings()
    /// Where ticks are stored (`store:`): the embedded SQLite file by default.
    public var store = StoreSettings()
    /// Where runs, flows' records, checks' journal, schedule marks, incidents and the outbox are
    /// kept (`records:`): the embedded SQLite file (`database`) by default; on PostgreSQL,
    /// several engines can share them.
    public var records = StoreSettings(urlEnvironment: "RUNBOOK_RECORDS_URL")
    /// What the configuration says of EAs, by target_uuid: `canary: true` for those on demo
    /// accounts that receive the `fire_round_trip` probe's canary fires.
    public var eas: [String: EASettings] = [:]

    /// The EAs marked `canary: true`, in order.
    public var canaries: [String] { eas.filter(\.value.canary).keys.sorted() }
    /// This engine's name among those sharing the records (`engine:`).
    public var engine = EngineIdentity()
    /// The file the configuration came from, if any.
    public var file: String?

    public init() {}

    public var databasePath: String {
        database ?? (dataDirectory as NSString).appendingPathComponent("runbook.db")
    }

    static let keys = ["data_dir", "database", "runbooks", "checks", "schedules", "flows", "processes", "restart", "server_time_zone", "market", "channels", "escalation", "http", "ticks", "store", "records", "engine", "eas"]

    /// Reads `path`, or `$RUNBOOK_CONFIG`, or `./runbook.yaml` when it exists, then applies the
    /// environment; `channels` names the channel types the file may use (`Catalog.channels`).
    public static func load(
        path: String?, environment: [String: String] = ProcessInfo.processInfo.environment, channels kinds: any ChannelCatalog
    ) throws(ValidationFailure) -> EngineConfig {
        var config = EngineConfig()
        let fromEnvironment = environment["RUNBOOK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let chosen = path ?? fromEnvironment ?? (FileManager.default.fileExists(atPath: "runbook.yaml") ? "runbook.yaml" : nil)
        if let chosen {
            let text = try YAMLFile.read(chosen, unreadable: "cannot read the configuration file: check the path given to --config or RUNBOOK_CONFIG")
            try config.read(text: text, file: chosen, channels: kinds)
        }
        let overrides: [(String, WritableKeyPath<EngineConfig, String>)] = [
            ("RUNBOOK_DATA_DIR", \.dataDirectory), ("RUNBOOK_RUNBOOKS", \.runbooksDirectory),
            ("RUNBOOK_CHECKS", \.checksDirectory), ("RUNBOOK_SCHEDULES", \.schedulesDirectory),
        ]
        for (variable, keyPath) in overrides {
            if let value = environment[variable], !value.isEmpty { config[keyPath: keyPath] = value }
        }
        if let database = environment["RUNBOOK_DATABASE"], !database.isEmpty { config.database = database }
        return config
    }

    /// Reads a configuration from YAML text alone, without the environment; `file` names it in
    /// diagnostics and anchors relative paths.
    public static func load(text: String, file: String, channels kinds: any ChannelCatalog) throws(ValidationFailure) -> EngineConfig {
        var config = EngineConfig()
        try config.read(text: text, file: file, channels: kinds)
        return config
    }

    private mutating func read(text: String, file: String, channels kinds: any ChannelCatalog) throws(ValidationFailure) {
        self.file = file
        var source = YAMLSource(file: file, text: text)
        if let root = source.compose(), let entries = source.entries(root, what: "the configuration") {
            source.rejectUnknownKeys(entries, allowed: Self.keys, in: "the configuration")
            let base = (file as NSString).deletingLastPathComponent
            func path(_ node: Node) -> String? {
                guard let text = source.string(node, what: "a path") else { return nil }
                return text.hasPrefix("/") || base.isEmpty ? text : (base as NSString).appendingPathComponent(text)
            }
            var references: [(String, Node)] = []
            for (key, _, value) in entries {
                switch key {
                case "data_dir": dataDirectory = path(value) ?? dataDirectory
                case "database": database = path(value)
                case "runbooks": runbooksDirectory = path(value) ?? runbooksDirectory
                case "checks": checksDirectory = path(value) ?? checksDirectory
                case "schedules": schedulesDirectory = path(value) ?? schedulesDirectory
                case "flows": readFlows(value, &source)
                case "processes": readProcesses(value, base: base, &source)
                case "restart": readRestart(value, &source)
                case "market": readMarket(value, &source)
                case "channels": readChannels(value, kinds: kinds, &source)
                case "http": readHTTP(value, &source)
                case "ticks": readTicks(value, &source)
                case "store": readStore(value, key: "store", into: \.store, &source)
                case "records": readStore(value, key: "records", into: \.records, &source)
                case "engine": readEngine(value, &source)
                case "eas": readEAs(value, &source)
                case "escalation": references = readEscalation(value, &source)
                case "server_time_zone":
                    guard let zone = source.string(value, what: "server_time_zone") else { break }
                    if TimeZone(identifier: zone) == nil {
                        source.error(value, "unknown time zone '\(zone)': write an IANA name such as UTC, Europe/Athens or America/New_York")
                    } else {
                        serverTimeZone = zone
                    }
                default: break
                }
            }
            checkChannelReferences(references, &source)
        }
        if !source.diagnostics.isEmpty { throw ValidationFailure(source.diagnostics) }
    }

    private mutating func readMarket(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "market") else { return }
        source.rejectUnknownKeys(entries, allowed: ["holidays"], in: "market")
        for (_, _, value) in entries {
            guard let items = value.sequence else {
                source.error(value, "market.holidays must be a list of dates such as 2026-12-25")
                continue
            }
            for item in items {
                guard let text = source.string(item, what: "a holiday") else { continue }
                if MarketCalendar.isDate(text) {
                    market.holidays.insert(text)
                } else {
                    source.error(item, "'\(text)' is not a date: write holidays as YYYY-MM-DD, New York dates")
                }
            }
        }
    }

    private mutating func readFlows(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "flows") else { return }
        source.rejectUnknownKeys(entries, allowed: FlowEndpoints.keys, in: "flows")
        for (key, _, value) in entries {
            if key == "security" {
                readFlowSecurity(value, &source)
                continue
            }
            guard let text = source.string(value, what: "flows.\(key)") else { continue }
            if key != "signal_forward_url", !(text.hasPrefix("tcp://") || text.hasPrefix("ipc://") || text.hasPrefix("inproc://")) {
                source.error(value, "flows.\(key) '\(text)' is not a ZeroMQ endpoint: write it like tcp://*:5556 or ipc:///tmp/queue")
                continue
            }
            switch key {
            case "telemetry_in": flows.telemetryIn = text
            case "telemetry_out": flows.telemetryOut = text
            case "signals": flows.signals = text
            case "command_queue": flows.commandQueue = text
            case "router": flows.router = text
            case "confirmations": flows.confirmations = text
            case "signal_forward_url": flows.signalForwardURL = text
            default: break
            }
        }
    }

    private mutating func readProcesses(_ node: Node, base: String, _ source: inout YAMLSource) {
        guard let items = node.sequence else {
            source.error(node, "processes must be a list of programs, each with name and command")
            return
        }
        for item in items {
            guard let entries = source.entries(item, what: "a process") else { continue }
            source.rejectUnknownKeys(entries, allowed: ProcessSettings.keys, in: "a process")
            let field = { (key: String) in entries.first { $0.key == key }?.value }
            guard let name = field("name").flatMap({ source.string($0, what: "name") }),
                  let command = field("command").flatMap({ source.string($0, what: "command") })
            else {
                source.error(item, "a process needs name and command")
                continue
            }
            var process = ProcessSettings(name: name, command: command)
            if let args = field("args") {
                if let list = args.sequence { process.args = list.compactMap { source.string($0, what: "an argument") } } else { source.error(args, "args must be a list") }
            }
            if let env = field("env"), let pairs = source.entries(env, what: "env") {
                for (key, _, value) in pairs { process.env[key] = source.string(value, what: "env.\(key)") }
            }
            if let cwd = field("cwd").flatMap({ source.string($0, what: "cwd") }) {
                process.cwd = cwd.hasPrefix("/") || base.isEmpty ? cwd : (base as NSString).appendingPathComponent(cwd)
            }
            if let ports = field("ports") {
                for port in ports.sequence ?? [ports] {
                    if let number = source.integer(port, what: "a port", range: 1...65535) { process.ports.append(number) }
                }
            }
            if let timeout = field("stop_timeout").flatMap({ source.duration($0, what: "stop_timeout") }) { process.stopTimeout = timeout }
            if let policy = field("restart") { process.restart = readRestart(policy, base: restart, &source) }
            if processes.contains(where: { $0.name == name }) { source.error(item, "process name '\(name)' is used twice: give each its own") }
            processes.append(process)
        }
    }

    private mutating func readRestart(_ node: Node, _ source: inout YAMLSource) {
        restart = readRestart(node, base: restart, &source)
    }

    /// A restart policy: the keys given, the rest from `base`.
    private func readRestart(_ node: Node, base: RestartSettings, _ source: inout YAMLSource) -> RestartSettings {
        var restart = base
        guard let entries = source.entries(node, what: "restart") else { return restart }
        source.rejectUnknownKeys(entries, allowed: RestartSettings.keys, in: "restart")
        for (key, _, value) in entries {
            switch key {
            case "budget": restart.budget = source.integer(value, what: "restart.budget", range: 0...1000) ?? restart.budget
            case "wait": restart.wait = source.duration(value, what: "restart.wait") ?? restart.wait
            case "max_wait": restart.maxWait = source.duration(value, what: "restart.max_wait") ?? restart.maxWait
            case "window": restart.window = source.duration(value, what: "restart.window") ?? restart.window
            case "stable_after": restart.stableAfter = source.duration(value, what: "restart.stable_after") ?? restart.stableAfter
            default: break
            }
        }
        return restart
    }
}
