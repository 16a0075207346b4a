import RunbookModel

/// A kind of step: declares its inputs and outputs, says what it would do, and does it.
///
/// To add a primitive, write one type conforming to this protocol in its own file and register
/// it in a `StepRegistry`; nothing else changes.
public protocol StepPrimitive: Sendable {
    static var spec: PrimitiveSpec { get }
    /// Reads resolved inputs; throws when a value cannot be used (a template resolved to a bad duration).
    init(inputs: ResolvedInputs) throws(StepInputError)
    /// What the step would do, for dry-run plans. Reads nothing that changes and changes nothing.
    func describe() -> String
    /// Does the work. Throws `StepFailure` for a failure an operator should read.
    func run(in context: StepContext) async throws -> StepResult
}

/// What a step produced.
public struct StepResult: Sendable {
    public var outputs: [String: Value]
    public var exitCode: Int32?
    /// What the step printed or did, bounded, for the records.
    public var output: String

    public init(outputs: [String: Value] = [:], exitCode: Int32? = nil, output: String = "") {
        self.outputs = outputs
        self.exitCode = exitCode
        self.output = output
    }
}

/// A step that ran and did not do what it should.
public struct StepFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var exitCode: Int32?
    public var output: String
    public var outputs: [String: Value]

    public init(_ message: String, exitCode: Int32? = nil, output: String = "", outputs: [String: Value] = [:]) {
        self.message = message
        self.exitCode = exitCode
        self.output = output
        self.outputs = outputs
    }

    public var description: String { message }
}

/// An input whose resolved value does not fit.
public struct StepInputError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
