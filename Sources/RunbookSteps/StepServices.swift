/// What the engine lends to steps that act on it (checks, the supervisor, the records), by type:
/// a primitive asks for the service it needs and fails with a clear reason when it is absent.
public struct StepServices: Sendable {
    private var entries: [ObjectIdentifier: any Sendable] = [:]

    public init() {}

    /// This bag with `service` available as `type`.
    public func adding<T>(_ service: T, as type: T.Type) -> StepServices where T: Sendable {
        var copy = self
        copy.entries[ObjectIdentifier(type)] = service
        return copy
    }

    public func get<T>(_ type: T.Type) -> T? {
        entries[ObjectIdentifier(type)] as? T
    }
}
