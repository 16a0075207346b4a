import Foundation
import RunbookCore
import RunbookModel
import RunbookSteps

/// Evaluates a check now; fails unless its status is allowed (healthy or idle by default).
public struct CheckStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "check",
        summary: "evaluate a health check (or every check, with name: all) now; fails unless its status is allowed",
        inputs: [InputSpec("name", .string, required: true), InputSpec("allow", .stringList), InputSpec("status", .string)],
        outputs: ["status", "value", "text", "subject", "failing"],
        shorthand: "name"
    )

    public var name: String
    public var allow: [CheckStatus]

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        name = try inputs.string("name")
        var allowed = inputs.strings("allow")
        if let status = try? inputs.string("status") { allowed.append(status) }
        if allowed.isEmpty { allowed = ["healthy", "idle"] }
        var statuses: [CheckStatus] = []
        for text in allowed {
            guard let status = CheckStatus(rawValue: text) else {
                throw StepInputError("'\(text)' is not a check status: use \(CheckStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            statuses.append(status)
        }
        allow = statuses
    }

    public func describe() -> String {
        "evaluate \(name == "all" ? "every check" : "check \(name)"); fail unless \(allow.map(\.rawValue).joined(separator: " or "))"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        guard let book = context.services.checks else {
            throw StepFailure("no checks are loaded here: check steps run inside `runbook up` or `runbook run` with a Checks folder")
        }
        if name == "all" { return try await evaluateAll(book) }
        let result: CheckResult
        do {
            result = try await book.evaluate(name)
        } catch {
            throw StepFailure("\(error)")
        }
        var outputs: [String: Value] = [
            "status": .string(result.status.rawValue), "text": .string(result.text), "subject": result.subject.map(Value.string) ?? .null,
        ]
        outputs["value"] = result.value.map { $0.isFinite ? .number($0) : .null } ?? .null
        let line = "\(name): \(result.status.rawValue): \(result.text)" + (result.subject.map { " [\($0)]" } ?? "")
        guard allow.contains(result.status) else {
            throw StepFailure("check \(name) is \(result.status.rawValue): \(result.text) (\(result.threshold))", output: line, outputs: outputs)
        }
        return StepResult(outputs: outputs, output: line)
    }
}

extension CheckStep {
    /// Every check at once: one line each; fails naming those whose status is not allowed.
    private func evaluateAll(_ book: any CheckRunning) async throws -> StepResult {
        let results = await book.evaluateAll()
        let lines = results.map { "\($0.check): \($0.status.rawValue): \($0.text)" + ($0.subject.map { " [\($0)]" } ?? "") }
        let failing = results.filter { !allow.contains($0.status) }
        let worst = results.map(\.status).filter { $0 != .idle }.max() ?? .healthy
        let outputs: [String: Value] = [
            "status": .string(worst.rawValue), "text": .string(lines.joined(separator: "\n")),
            "failing": .list(failing.map { .string($0.check) }), "value": .number(Double(failing.count)), "subject": .null,
        ]
        let summary = "\(results.count - failing.count) of \(results.count) check(s) \(allow.map(\.rawValue).joined(separator: " or "))"
        guard failing.isEmpty else {
            throw StepFailure("\(summary); not: \(failing.map { "\($0.check) (\($0.status.rawValue))" }.joined(separator: ", "))", output: lines.joined(separator: "\n"), outputs: outputs)
        }
        return StepResult(outputs: outputs, output: summary + "\n" + lines.joined(separator: "\n"))
    }
}

/// Restarts a service or supervised program through its supervisor: the restart budget is
/// honoured and the restart verified (running, ports bound) before the step succeeds.
public struct RestartStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "restart",
        summary: "restart a service or supervised program (or every one, with service: all) through the supervisor (budget honoured, verified)",
        inputs: [InputSpec("service", .string, required: true)],
        outputs: ["service", "restarts"],
        shorthand: "service"
    )

    public var service: String

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        service = try inputs.string("service")
    }

    public func describe() -> String { "restart \(service == "all" ? "every service and program" : service) through its supervisor and verify it" }

    public func run(in context: StepContext) async throws -> StepResult {
        guard let engine = context.services.engine else {
            throw StepFailure("no engine to restart \(service) in: run `runbook up`")
        }
        if service == "all" {
            // Every one, programs (the producers) first, then the flows; each verified; a
            // refusal does not stop the others.
            let names = try await engine.serviceNames()
            var failed: [String] = []
            for name in names.reversed() {
                do { try await engine.restart(name) } catch { failed.append("\(name): \(error)") }
            }
            let text = "restarted \(names.count - failed.count) of \(names.count) service(s)"
            if !failed.isEmpty { throw StepFailure(text + "; not: " + failed.joined(separator: "; "), output: text) }
            return StepResult(outputs: ["service": .string("all"), "restarts": .number(Double(names.count))], output: text + ": " + names.joined(separator: ", "))
        }
        do {
            try await engine.restart(service)
        } catch {
            throw StepFailure("\(error)")
        }
        let restarts = try? await engine.snapshot().service(service)?.restarts
        context.logger.notice("restarted \(service) and verified it", metadata: ["runbook": "\(context.runbook)", "run": "\(context.runID)"])
        return StepResult(
            outputs: ["service": .string(service), "restarts": restarts.map { .number(Double($0)) } ?? .null],
            output: "\(service) restarted and verified" + (restarts.map { " (\($0) restart(s) in the window)" } ?? "")
        )
    }
}

/// Clears alerts that no longer hold: those of checks that are healthy (or idle) now, or every
/// open alert with `all: true`.
public struct ClearAlertsStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "clear_alerts",
        summary: "clear open alerts of checks that are healthy again (or all of them)",
        inputs: [InputSpec("checks", .stringList), InputSpec("all", .bool)],
        outputs: ["cleared", "still_open"]
    )

    public var checks: [String]
    public var all: Bool

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        checks = inputs.strings("checks")
        all = try inputs.bool("all", default: false)
    }

    public func describe() -> String {
        all ? "clear every open alert" : "clear the alerts of checks that are healthy now" + (checks.isEmpty ? "" : " among \(checks.joined(separator: ", "))")
    }

    public func run(in context: StepContext) async throws -> StepResult {
        guard let alerts = context.services.alerts else { throw StepFailure("no alerts are kept here: run inside `runbook up`") }
        let book = context.services.checks
        var cleared: [String] = []
        var stillOpen: [String] = []
        for check in try await alerts.openAlerts() where checks.isEmpty || checks.contains(check) {
            var stale = all
            if !stale, let book, let result = try? await book.evaluate(check) { stale = !result.status.isBad && result.status != .unknown }
            if stale, try await alerts.clearAlerts(check: check, by: "runbook \(context.runbook) run \(context.runID)") > 0 {
                cleared.append(check)
            } else {
                stillOpen.append(check)
            }
        }
        let text = "cleared \(cleared.count) alert(s)" + (cleared.isEmpty ? "" : ": \(cleared.joined(separator: ", "))")
            + (stillOpen.isEmpty ? "" : "; still open: \(stillOpen.joined(separator: ", "))")
        return StepResult(outputs: ["cleared": .list(cleared.map(Value.string)), "still_open": .list(stillOpen.map(Value.string))], output: text)
    }
}

extension StepRegistry {
    /// The primitives that act on checks, alerts and the engine's services.
    public static let checks = StepRegistry([CheckStep.self, RestartStep.self, ClearAlertsStep.self, GateStep.self])
}
