import Foundation
import RunbookModel
import RunbookStore

/// Ticks per symbol over the last while, from the engine's tick store, SQLite or PostgreSQL alike.
public struct TickCountsStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "tick_counts",
        summary: "count the ticks stored per symbol over the last while (either tick store)",
        inputs: [InputSpec("since", .duration)],
        outputs: ["value", "total", "symbols"],
        shorthand: "since"
    )

    public var since: Duration

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        since = try inputs.duration("since", default: .seconds(3600))
        guard since > .zero else { throw StepInputError("since is \(DurationText.format(since)): write how far back to count, as in 1h") }
    }

    public func describe() -> String { "count the ticks stored per symbol in the last \(DurationText.format(since))" }

    public func run(in context: StepContext) async throws -> StepResult {
        guard let access = context.services.ticks else {
            throw StepFailure("tick_counts has no tick store here: run it from `runbook run` or the engine, with the configuration that names the store")
        }
        let now = Int64(context.services.now().timeIntervalSince1970 * 1000)
        let counts: [String: Int]
        do {
            counts = try await access.store().tickCounts(from: now - since.milliseconds, to: now)
        } catch {
            throw StepFailure("cannot count the ticks in \(access): \(error)")
        }
        let lines = counts.keys.sorted().map { "\($0): \(counts[$0]!)" }
        let value = lines.isEmpty ? "no ticks in the last \(DurationText.format(since))" : lines.joined(separator: "\n")
        let total = counts.values.reduce(0, +)
        return StepResult(
            outputs: ["value": .string(value), "total": .number(Double(total)), "symbols": .number(Double(counts.count))],
            output: value
        )
    }
}
