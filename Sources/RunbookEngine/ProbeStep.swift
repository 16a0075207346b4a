import Foundation
import RunbookChecks
import RunbookModel
import RunbookSteps
import RunbookZMQ

/// Sends a test message through the command queue and waits until the command router records it
/// (never sent to an EA); or, with `connect`, checks that a ZeroMQ peer answers at an endpoint.
public struct ProbeStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "probe",
        summary: "send a test probe through the command queue and see the router record it, or check a ZeroMQ peer answers",
        inputs: [InputSpec("queue", .string), InputSpec("connect", .string), InputSpec("as", .string), InputSpec("timeout", .duration)],
        outputs: ["probe_id", "latency_ms"]
    )

    public var queue: String?
    public var connect: String?
    /// The socket that connects: `dealer` for a ROUTER, `sub` for a PUB, `push` for a PULL.
    public var kind: ZMQSocket.Kind
    public var timeout: Duration

    static let kinds: [String: ZMQSocket.Kind] = ["dealer": .dealer, "sub": .sub, "push": .push, "pull": .pull, "pub": .pub, "router": .router]

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        queue = try? inputs.string("queue")
        connect = try? inputs.string("connect")
        let name = inputs.string("as", default: "dealer")
        guard let kind = Self.kinds[name] else {
            throw StepInputError("probe as '\(name)' is not one of \(Self.kinds.keys.sorted().joined(separator: ", ")): use sub for a PUB, dealer for a ROUTER, push for a PULL")
        }
        self.kind = kind
        timeout = try inputs.duration("timeout", default: .seconds(10))
        if queue != nil, connect != nil { throw StepInputError("probe takes queue or connect, not both") }
        for endpoint in [queue, connect].compactMap({ $0 }) where !(endpoint.hasPrefix("tcp://") || endpoint.hasPrefix("ipc://")) {
            throw StepInputError("'\(endpoint)' is not a ZeroMQ endpoint: write it like tcp://127.0.0.1:5555 or ipc:///tmp/queue")
        }
    }

    public func describe() -> String {
        if let connect { return "check that a ZeroMQ peer answers at \(connect)" }
        return "send a test probe through \(queue ?? "the command queue") and wait up to \(DurationText.format(timeout)) for the router to record it"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let started = ContinuousClock.now
        if let connect {
            let answers: Bool
            do {
                let (kind, timeout) = (self.kind, self.timeout)
                answers = try await ZMQOneShot.offThread { try ZMQOneShot.peerAnswers(at: connect, as: kind, within: timeout) }
            } catch {
                throw StepFailure("cannot connect to \(connect): \(error)")
            }
            guard answers else { throw StepFailure("no ZeroMQ peer answered at \(connect) within \(DurationText.format(timeout))") }
            let latency = Double((ContinuousClock.now - started).milliseconds)
            return StepResult(outputs: ["latency_ms": .number(latency)], output: "a peer answered at \(connect)")
        }
        guard let endpoint = queue ?? context.services.flows.map({ FlowEndpoints.local($0.commandQueue) }) else {
            throw StepFailure("probe needs the command queue: give `queue:`")
        }
        guard let records = context.services.records else { throw StepFailure("no records to see the probe arrive in") }
        let id = "probe-\(context.runID)-\(context.stepID)-\(context.attempt)-\(UInt32.random(in: 0...UInt32.max))"
        let message = #"{"type":"test","probe_id":"\#(id)"}"#
        let outcome: ZMQOneShot.Outcome
        do {
            let wait = Duration.milliseconds(Int64(min(timeout.seconds, 5) * 1000))
            outcome = try await ZMQOneShot.offThread { try ZMQOneShot.push(message, to: endpoint, within: wait) }
        } catch {
            throw StepFailure("cannot send the probe to \(endpoint): \(error)")
        }
        switch outcome {
        case .sent: break
        case .noPeer: throw StepFailure("nothing listens on the command queue \(endpoint): the command router is not taking commands")
        case .notTaken: throw StepFailure("the command queue \(endpoint) did not take the probe")
        }
        let deadline = started + timeout
        while ContinuousClock.now < deadline {
            if try await records.probeArrival(id: id) != nil {
                let latency = Double((ContinuousClock.now - started).milliseconds)
                return StepResult(outputs: ["probe_id": .string(id), "latency_ms": .number(latency)], output: "probe \(id) recorded by the router after \(Int(latency)) ms")
            }
            try await context.clock.sleep(for: .milliseconds(50))
        }
        throw StepFailure("the probe \(id) went into \(endpoint) but the router did not record it within \(DurationText.format(timeout))", outputs: ["probe_id": .string(id)])
    }
}

extension StepRegistry {
    /// The primitives that need the engine's ZeroMQ side.
    public static let engine = StepRegistry([ProbeStep.self])
}
