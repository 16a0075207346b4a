import RunbookModel

/// Waits for a fixed time, on the run's clock.
public struct WaitStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "wait",
        summary: "wait for a duration",
        inputs: [InputSpec("duration", .duration, required: true)],
        shorthand: "duration"
    )

    public var duration: Duration

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        duration = try inputs.duration("duration")
    }

    public func describe() -> String { "wait \(DurationText.format(duration))" }

    public func run(in context: StepContext) async throws -> StepResult {
        try await context.clock.sleep(for: duration)
        return StepResult(output: "waited \(DurationText.format(duration))")
    }
}
