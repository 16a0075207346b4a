import RunbookModel

/// Replaces the values of secret parameters wherever they would be written down.
public struct Redactor: Sendable {
    public static let mask = "***"
    private let secrets: [String]

    public init(secrets: [String]) {
        // Longest first, so a secret that contains another is masked whole.
        self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    public init(runbook: Runbook, params: [String: Value]) {
        self.init(secrets: runbook.params.filter(\.secret).compactMap { params[$0.name]?.text })
    }

    public func redact(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: Self.mask) }
    }

    /// Parameters as they may be recorded.
    public func recordable(_ params: [String: Value], of runbook: Runbook) -> [String: String] {
        var recorded: [String: String] = [:]
        for (name, value) in params {
            recorded[name] = runbook.param(named: name)?.secret == true ? Self.mask : redact(value.text)
        }
        return recorded
    }
}

import Foundation
