import Logging
import RunbookModel

/// Writes a message to the run's log and its record.
public struct LogStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "log",
        summary: "write a message to the log",
        inputs: [InputSpec("message", .string, required: true), InputSpec("level", .string)],
        outputs: ["message"],
        shorthand: "message"
    )

    public var message: String
    public var level: Logger.Level

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        message = try inputs.string("message")
        let name = inputs.string("level", default: "info")
        guard let level = Logger.Level(rawValue: name) else {
            throw StepInputError("log level '\(name)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.level = level
    }

    public func describe() -> String { "log (\(level)): \(message)" }

    public func run(in context: StepContext) async throws -> StepResult {
        context.logger.log(level: level, "\(message)", metadata: ["runbook": "\(context.runbook)", "step": "\(context.stepID)"])
        return StepResult(outputs: ["message": .string(message)], output: message)
    }
}
