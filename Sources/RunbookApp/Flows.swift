import Logging
import RunbookCore
import RunbookFlows
import RunbookModel
import RunbookStore

/// The flows `runbook up` runs, in start order. A new flow is a type in `RunbookFlows` that
/// conforms to `Flow`, and one line here.
enum Flows {
    static func standard(
        _ endpoints: FlowEndpoints, store: (any FlowStore)?, ingest: TickIngest?, onSignal: (@Sendable (FlowMessage.Signal) -> Void)?, gate: FireGate? = nil,
        logger: Logger
    ) -> (FlowAccess?) -> [any Flow] {
        var onTick: (@Sendable (UnsafeRawBufferPointer) -> Void)?
        var isBackedUp: (@Sendable () -> Bool)?
        if let ingest {
            onTick = { frame in ingest.accept(frame) }
            isBackedUp = { ingest.isFull }
        }
        return { access in
            [
                TelemetryBridge(
                    input: endpoints.telemetryIn, output: endpoints.telemetryOut, store: store, logger: logger, onTick: onTick, isBackedUp: isBackedUp,
                    access: access
                ),
                SignalRelay(source: endpoints.signals, store: store, logger: logger, forward: onSignal),
                CommandRouter(queue: endpoints.commandQueue, router: endpoints.router, store: store, logger: logger, access: access, gate: gate),
                ConfirmationListener(input: endpoints.confirmations, store: store, logger: logger, access: access),
            ]
        }
    }
}
