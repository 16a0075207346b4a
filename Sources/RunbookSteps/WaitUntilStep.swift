import RunbookModel

/// Polls a condition, or another primitive, until it holds or the time is up.
public struct WaitUntilStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "wait_until",
        summary: "poll a condition or a primitive until it succeeds",
        inputs: [
            InputSpec("condition", .condition),
            InputSpec("until", .primitive),
            InputSpec("interval", .duration),
            InputSpec("timeout", .duration),
        ],
        outputs: ["attempts", "waited"],
        shorthand: "condition"
    )

    public var condition: Condition?
    public var until: NestedPrimitive?
    public var interval: Duration
    public var timeout: Duration

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        condition = inputs.conditions["condition"]
        until = inputs.nested["until"]
        guard (condition == nil) != (until == nil) else {
            throw StepInputError("wait_until needs either 'condition' or 'until', not \(condition == nil ? "neither" : "both")")
        }
        interval = try inputs.duration("interval", default: .seconds(5))
        timeout = try inputs.duration("timeout", default: .seconds(300))
    }

    public func describe() -> String {
        let what = condition.map { "`\($0.text)` holds" } ?? "'\(until!.name)' succeeds"
        return "poll every \(DurationText.format(interval)) until \(what), for at most \(DurationText.format(timeout))"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let elapsed = context.clock.stopwatch()
        var attempts = 0
        var lastProblem = ""
        while true {
            attempts += 1
            var outputs: [String: Value] = [:]
            if let condition {
                do {
                    if try context.evaluator.evaluate(condition.expression).isTruthy { break }
                    lastProblem = "`\(condition.text)` is false"
                } catch {
                    lastProblem = error.description
                }
            } else if let until {
                do {
                    let primitive = try context.makeNested(until)
                    outputs = try await primitive.run(in: context).outputs
                    let waited = elapsed()
                    return StepResult(outputs: outputs.merging(Self.outputs(attempts, waited)) { $1 }, output: "succeeded after \(attempts) attempts")
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    lastProblem = "\(error)"
                }
            }
            let waited = elapsed()
            if waited + interval > timeout {
                throw StepFailure("still not done after \(DurationText.format(waited)) and \(attempts) attempts: \(lastProblem)", outputs: Self.outputs(attempts, waited))
            }
            try await context.clock.sleep(for: interval)
        }
        let waited = elapsed()
        return StepResult(outputs: Self.outputs(attempts, waited), output: "held after \(attempts) attempts")
    }

    private static func outputs(_ attempts: Int, _ waited: Duration) -> [String: Value] {
        ["attempts": .number(Double(attempts)), "waited": .number(waited.seconds)]
    }
}
