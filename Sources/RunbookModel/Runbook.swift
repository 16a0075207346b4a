/// A validated runbook: parameters and the steps that run in order.
public struct Runbook: Sendable {
    public var name: String
    public var description: String
    public var params: [ParamSpec]
    public var steps: [Step]
    /// Where the runbook was loaded from.
    public var file: String
    /// A fingerprint of the YAML text that was loaded, recorded with each run.
    public var contentHash: String
    /// Runs only when a person confirms it (`runbook run NAME --confirm`, `runbook reset`):
    /// never from a check, a schedule or another runbook.
    public var requiresConfirmation = false

    public init(name: String, description: String = "", params: [ParamSpec] = [], steps: [Step], file: String, contentHash: String) {
        self.name = name
        self.description = description
        self.params = params
        self.steps = steps
        self.file = file
        self.contentHash = contentHash
    }

    public func param(named name: String) -> ParamSpec? {
        params.first { $0.name == name }
    }

    /// The runbooks this one starts, by `run` steps or `on_failure: {run: ...}`.
    public var referencedRunbooks: [RunbookReference] {
        steps.flatMap { step in
            var names = step.runbookReferences
            if case .run(let other) = step.onFailure { names.append(RunbookReference(name: other, location: step.location)) }
            return names
        }
    }
}

/// FNV-1a, 64 bits: identifies which text of a runbook ran; not a security measure.
enum ContentHash {
    static func of(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
