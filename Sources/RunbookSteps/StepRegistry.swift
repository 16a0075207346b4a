import RunbookModel

/// The primitives a runbook may use, by name.
public struct StepRegistry: PrimitiveCatalog {
    private var types: [String: any StepPrimitive.Type] = [:]

    public init(_ types: [any StepPrimitive.Type] = []) {
        for type in types { register(type) }
    }

    /// The primitives that need nothing but the operating system.
    public static let core = StepRegistry([
        ShellStep.self, WaitStep.self, WaitUntilStep.self, LogStep.self, RunStep.self, ArchiveStep.self, PruneStep.self, EscalateStep.self, NotifyStep.self,
        TickCountsStep.self, ApproveStep.self,
    ])

    public mutating func register(_ type: any StepPrimitive.Type) {
        precondition(types[type.spec.name] == nil, "primitive \(type.spec.name) registered twice")
        types[type.spec.name] = type
    }

    /// This registry with the primitives of `other` added.
    public func merging(_ other: StepRegistry) -> StepRegistry {
        var merged = self
        for type in other.types.values { merged.register(type) }
        return merged
    }

    public func spec(named name: String) -> PrimitiveSpec? {
        types[name]?.spec
    }

    public var primitiveNames: [String] { types.keys.sorted() }

    public func problem(with primitive: String, inputs: Inputs) -> String? {
        guard let type = types[primitive], let resolved = ResolvedInputs(literal: inputs) else { return nil }
        do {
            _ = try type.init(inputs: resolved)
            return nil
        } catch {
            return error.description
        }
    }

    public func make(_ name: String, inputs: ResolvedInputs) throws(StepInputError) -> any StepPrimitive {
        guard let type = types[name] else { throw StepInputError("unknown primitive '\(name)'") }
        return try type.init(inputs: inputs)
    }
}
