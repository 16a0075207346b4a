import Foundation
import RunbookCore
import RunbookModel
import RunbookSteps

/// Closes or opens the kill switch on the command router: while it is closed, no fire from the
/// queue reaches an EA. `gate: close` needs a reason; the change is recorded with the runbook and
/// run that made it.
public struct GateStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "gate",
        summary: "close or open the kill switch on the command router (closed: every fire fails with the reason and never reaches an EA)",
        inputs: [InputSpec("action", .string, required: true, allowsTemplates: false), InputSpec("reason", .string)],
        outputs: ["closed", "reason", "by"],
        shorthand: "action"
    )

    public var close: Bool
    public var reason: String

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        let action = try inputs.string("action")
        guard action == "close" || action == "open" else { throw StepInputError("gate action \"\(action)\" is not close or open") }
        close = action == "close"
        reason = inputs.string("reason", default: "")
        if close, reason.trimmingCharacters(in: .whitespaces).isEmpty {
            throw StepInputError("gate: close needs a reason (reason: ...), which every failed fire will carry")
        }
    }

    public func describe() -> String {
        close ? "close the gate: \(reason)" : "open the gate" + (reason.isEmpty ? "" : ": \(reason)")
    }

    public func run(in context: StepContext) async throws -> StepResult {
        guard let keeper = context.services.gate else { throw StepFailure("no gate here: the gate is on the command router of `runbook up`") }
        let change: GateChange
        do {
            change = try await keeper.change(closed: close, reason: reason, by: "runbook \(context.runbook) (run \(context.runID))", via: "runbook")
        } catch let partly as GateNotRecorded {
            throw StepFailure("\(partly)", outputs: ["closed": .bool(true), "reason": .string(reason), "by": .string(partly.change.by)])
        } catch {
            throw StepFailure("the gate could not be \(close ? "closed" : "opened"): \(error)")
        }
        context.logger.warning("gate \(change.text)", metadata: ["runbook": "\(context.runbook)", "run": "\(context.runID)"])
        return StepResult(
            outputs: ["closed": .bool(change.closed), "reason": .string(change.reason), "by": .string(change.by)],
            output: "gate \(change.text)"
        )
    }
}
