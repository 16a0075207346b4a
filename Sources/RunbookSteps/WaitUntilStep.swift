import RunbookModel

/// Polls another primitive until it succeeds (and, with `condition`, until the condition holds
/// on its outputs, read as `poll.NAME`), or a condition on the run's values, until the time is up.
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
        guard condition != nil || until != nil else {
            throw StepInputError("wait_until needs 'until' (a primitive to poll), 'condition', or both")
        }
        interval = try inputs.duration("interval", default: .seconds(5))
        timeout = try inputs.duration("timeout", default: .seconds(300))
    }

    public func describe() -> String {
        let what = [until.map { "'\($0.name)' succeeds" }, condition.map { "`\($0.text)` holds" }].compactMap { $0 }.joined(separator: " and ")
        return "poll every \(DurationText.format(interval)) until \(what), for at most \(DurationText.format(timeout))"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let elapsed = context.clock.stopwatch()
        var attempts = 0
        var lastProblem = ""
        while true {
            attempts += 1
            var outputs: [String: Value] = [:]
            do {
                if let until {
                    outputs = try await context.makeNested(until).run(in: context).outputs
                }
                if let condition {
                    let polled = outputs
                    let base = context.evaluator
                    let evaluator = ExpressionEvaluator { reference in
                        reference.path.count == 2 && reference.path[0] == "poll" ? polled[reference.path[1]] : base.resolve(reference)
                    }
                    guard try evaluator.evaluate(condition.expression).isTruthy else {
                        throw StepFailure("`\(condition.text)` is false")
                    }
                }
                let waited = elapsed()
                return StepResult(outputs: outputs.merging(Self.outputs(attempts, waited)) { $1 }, output: "done after \(attempts) attempt(s)")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                lastProblem = "\(error)"
            }
            // Polls go on every interval; the last one starts at the timeout, however long each took.
            let waited = elapsed()
            if waited >= timeout {
                throw StepFailure("still not done after \(DurationText.format(waited)) and \(attempts) attempts: \(lastProblem)", outputs: Self.outputs(attempts, waited))
            }
            try await context.clock.sleep(for: min(interval, timeout - waited))
        }
    }

    private static func outputs(_ attempts: Int, _ waited: Duration) -> [String: Value] {
        ["attempts": .number(Double(attempts)), "waited": .number(waited.seconds)]
    }
}
