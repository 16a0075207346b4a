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

    public func stop() async {
        guard let runner = thread.withLock({ $0 }) else { return }
        runner.stop()
        _ = await runner.finished()
    }
}
