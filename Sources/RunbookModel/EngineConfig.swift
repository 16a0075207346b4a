import Foundation
import Yams

/// Where the engine keeps its data and finds its documents.
///
/// Keys of `runbook.yaml` (all optional; relative paths are read against the file's folder):
/// - `data_dir`: folder for the records database and other state (default `var`)
/// - `database`: the records database (default `DATA_DIR/runbook.db`)
/// - `runbooks`, `checks`, `schedules`: folders of YAML documents (default `Runbooks`, `Checks`, `Schedules`)
///
/// Environment variables override the file: `RUNBOOK_DATA_DIR`, `RUNBOOK_DATABASE`, `RUNBOOK_RUNBOOKS`,
/// `RUNBOOK_CHECKS`, `RUNBOOK_SCHEDULES`.
public struct EngineConfig: Sendable {
    public var dataDirectory: String = "var"
    public var database: String?
    public var runbooksDirectory: String = "Runbooks"
    public var checksDirectory: String = "Checks"
    public var schedulesDirectory: String = "Schedules"
    /// The file the configuration came from, if any.
    public var file: String?

    public init() {}

    public var databasePath: String {
        database ?? (dataDirectory as NSString).appendingPathComponent("runbook.db")
    }

    static let keys = ["data_dir", "database", "runbooks", "checks", "schedules"]

    /// Reads `path`, or `$RUNBOOK_CONFIG`, or `./runbook.yaml` when it exists, then applies the environment.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ValidationFailure) -> EngineConfig {
        var config = EngineConfig()
        let fromEnvironment = environment["RUNBOOK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let chosen = path ?? fromEnvironment ?? (FileManager.default.fileExists(atPath: "runbook.yaml") ? "runbook.yaml" : nil)
        if let chosen {
            guard let data = FileManager.default.contents(atPath: chosen) else {
                throw ValidationFailure([Diagnostic(SourceLocation(file: chosen, line: 1, column: 1), "cannot read the configuration file: check the path given to --config or RUNBOOK_CONFIG")])
            }
            try config.read(text: String(decoding: data, as: UTF8.self), file: chosen)
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

    private mutating func read(text: String, file: String) throws(ValidationFailure) {
        self.file = file
        var source = YAMLSource(file: file, text: text)
        if let root = source.compose(), let entries = source.entries(root, what: "the configuration") {
            source.rejectUnknownKeys(entries, allowed: Self.keys, in: "the configuration")
            let base = (file as NSString).deletingLastPathComponent
            func path(_ node: Node) -> String? {
                guard let text = source.string(node, what: "a path") else { return nil }
                return text.hasPrefix("/") || base.isEmpty ? text : (base as NSString).appendingPathComponent(text)
            }
            for (key, _, value) in entries {
                switch key {
                case "data_dir": dataDirectory = path(value) ?? dataDirectory
                case "database": database = path(value)
                case "runbooks": runbooksDirectory = path(value) ?? runbooksDirectory
                case "checks": checksDirectory = path(value) ?? checksDirectory
                case "schedules": schedulesDirectory = path(value) ?? schedulesDirectory
                default: break
                }
            }
        }
        if !source.diagnostics.isEmpty { throw ValidationFailure(source.diagnostics) }
    }
}
