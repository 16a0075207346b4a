import RunbookChecks
import RunbookFlows
import RunbookZMQ
import Synchronization

/// A flow as a supervised unit: each start opens its sockets afresh on a new thread.
public final class FlowUnit: SupervisedUnit {
    public let flow: any Flow
    private let context: ZMQContext
    private let thread = Mutex<FlowThread?>(nil)

    public init(_ flow: any Flow, context: ZMQContext) {
        self.flow = flow
        self.context = context
    }

    public var name: String { flow.name }

    public var ports: [Int] { flow.bindEndpoints.compactMap(ZMQSocket.port(of:)) }

    public func start() throws {
        try flow.open(context)
        let runner = FlowThread(flow)
        thread.withLock { $0 = runner }
        runner.start()
    }

    public func finished() async -> String {
        guard let runner = thread.withLock({ $0 }) else { return "not started" }
        return await runner.finished().map { "\($0)" } ?? "stopped"
    }

    /// Up: its loop turned in the last few seconds and its ports listen.
    public func verify() -> String? {
        guard let since = thread.withLock({ $0 })?.sinceLastTurn else { return "its loop has ended" }
        guard since < .seconds(5) else { return "its loop has not turned for \(since)" }
        let missing = Listeners.notListening(ports)
        return missing.isEmpty ? nil : "ports \(missing.map(String.init).joined(separator: ", ")) are not bound"
    }

    public func stop() async {
        guard let runner = thread.withLock({ $0 }) else { return }
        runner.stop()
        _ = await runner.finished()
    }
}
