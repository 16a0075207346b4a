import Foundation
import RunbookChecks
import RunbookCore
import RunbookFlows
import RunbookModel
import RunbookSteps
import RunbookZMQ

/// The whole fire path, proved before a real trade needs it: a canary fire (a small real fire,
/// id `canary-…`) goes through the command queue to each EA marked `canary: true` (a demo
/// account's), and the probe waits for its confirmation in the records. Value: the slowest
/// round trip from queued to confirmed, in milliseconds; an EA that did not confirm within the
/// timeout makes it critical, naming the EA and where its fire stopped.
public struct FireRoundTripProbe: Probe {
    public static let spec = ProbeSpec(
        name: "fire_round_trip",
        summary: "a canary fire to each EA marked canary: milliseconds from queued to confirmed, the slowest (critical when one is not confirmed in time)",
        inputs: [InputSpec("eas", .stringList), InputSpec("symbol", .string), InputSpec("lot", .number), InputSpec("timeout", .duration)],
        unit: .milliseconds, warning: Threshold(.above, 2000), critical: Threshold(.above, 5000)
    )

    public var eas: [String]
    public var symbol: String
    public var lot: Double
    public var timeout: Duration

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        eas = inputs.texts("eas")
        symbol = inputs.text("symbol") ?? "EURUSD"
        lot = inputs.number("lot") ?? 0.01
        guard lot > 0, lot <= 0.1 else { throw ProbeInputError("fire_round_trip lot must be above 0 and at most 0.1: a canary is a small fire on a demo account") }
        guard let timeout = inputs.duration("timeout") ?? .some(.seconds(10)), timeout >= .milliseconds(100), timeout <= .seconds(120) else {
            throw ProbeInputError("fire_round_trip timeout must be from 100ms to 2m")
        }
        self.timeout = timeout
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        // Those the configuration marks, and the simulated ea-01 of a running `runbook up
        // --simulate`, so that a shell sends where the engine does.
        var canaries = environment.canaries
        if let running = (try? await environment.engine?.snapshot())?.simulatedCanaries {
            canaries += running.filter { !canaries.contains($0) }
        }
        let targets = eas.isEmpty ? canaries : eas
        // Only an EA the configuration marks canary (a demo account) ever receives one.
        if let unmarked = targets.first(where: { !canaries.contains($0) }) {
            throw ProbeFailure("\(unmarked) is not marked canary: only EAs with eas: {\(unmarked): {canary: true}} in runbook.yaml (demo accounts) receive canary fires")
        }
        guard !targets.isEmpty else {
            return ProbeReading(value: nil, text: "no EA is marked canary: mark a demo account's EA with eas: {EA: {canary: true}} in runbook.yaml", status: .idle)
        }
        if let closed = environment.gate?.gate?.closedReason {
            return ProbeReading(value: nil, text: "gate closed: \(closed): no canary reaches an EA while the gate is closed", status: .idle)
        }
        guard let flows = environment.flows else { throw ProbeFailure("the command queue is not known here: run the check inside `runbook up` or with its runbook.yaml") }
        let records = try environment.requireRecords()
        let endpoint = FlowEndpoints.local(flows.commandQueue)
        // Every canary at once: one slow EA does not delay the others' measure.
        let started = ContinuousClock.now
        var sent: [(target: String, id: String, at: Date)] = []
        for target in targets {
            let id = "canary-\(target)-\(UInt64(Date().timeIntervalSince1970 * 1000))-\(UInt16.random(in: 0...UInt16.max))"
            // `canary: true` tells an EA that knows it to confirm without trading.
            let fire = FlowMessage.Fire(id: id, target: target, symbol: symbol, direction: "BUY", lot: lot).json.dropLast() + #","canary":true}"#
            let queuedAt = Date()
            let outcome = try await ZMQOneShot.offThread { try ZMQOneShot.push(String(fire), to: endpoint, within: .seconds(2)) }
            guard outcome == .sent else {
                return ProbeReading(value: nil, text: "nothing takes fires on the command queue \(endpoint): the command router is not taking commands", subject: target, status: .critical)
            }
            sent.append((target, id, queuedAt))
        }
        var latencies: [String: Double] = [:]
        var refusals: [String: String] = [:]
        var last: [String: FireOutcome] = [:]
        while latencies.count < sent.count, ContinuousClock.now - started < timeout {
            for (target, id, queuedAt) in sent where latencies[target] == nil {
                guard let outcome = try await records.fireOutcome(id: id) else { continue }
                last[target] = outcome
                switch (outcome.status, outcome.sentAt) {
                case ("FAILED", nil):
                    // Failed by the router: it never reached the EA.
                    let error = outcome.error ?? "no reason"
                    if error.hasPrefix("gate closed:") {
                        return ProbeReading(value: nil, text: "\(error): no canary reaches an EA while the gate is closed", subject: target, status: .idle)
                    }
                    return ProbeReading(value: nil, text: "\(target): the canary fire failed before reaching the EA: \(error)", subject: target, status: .critical)
                case ("FILLED", _), ("FAILED", _):
                    // Answered by the EA, filled or refused: the path works both ways.
                    latencies[target] = max(0, (outcome.finishedAt ?? Date()).timeIntervalSince(queuedAt) * 1000).rounded()
                    if outcome.status == "FAILED" { refusals[target] = outcome.error ?? "no reason" }
                default: break
                }
            }
            if latencies.count < sent.count { try await Task.sleep(for: .milliseconds(25)) }
        }
        if let missing = sent.first(where: { latencies[$0.target] == nil }) {
            let stage = last[missing.target].map { "its fire \(missing.id) is \($0.status)" } ?? "its fire \(missing.id) was not recorded"
            return ProbeReading(
                value: nil, text: "\(missing.target): no confirmation of the canary within \(DurationText.format(timeout)) (\(stage))", subject: missing.target, status: .critical
            )
        }
        let slowest = latencies.max { $0.value < $1.value }!
        // The path works, but the EA would not trade: AutoTrading off, a symbol it does not
        // know, no margin. A real fire would fail the same way.
        if let (target, reason) = refusals.sorted(by: { $0.key < $1.key }).first {
            return ProbeReading(
                value: slowest.value, text: "\(target) answered the canary in \(Int(latencies[target] ?? 0)) ms but refused it: \(reason)", subject: target, status: .warning
            )
        }
        return ProbeReading(
            value: slowest.value, text: "canary round trip \(Int(slowest.value)) ms (\(slowest.key)\(sent.count > 1 ? ", the slowest of \(sent.count)" : ""))",
            subject: slowest.key
        )
    }
}

extension ProbeRegistry {
    /// The probes that need the engine's ZeroMQ side.
    public static let engine = ProbeRegistry([FireRoundTripProbe.self])
}
