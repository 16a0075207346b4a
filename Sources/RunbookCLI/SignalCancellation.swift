import Dispatch
import Foundation

/// Cancels a task on SIGINT or SIGTERM, so that a run stops its steps and records `cancelled`.
final class SignalCancellation: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []

    init(cancelling task: Task<some Sendable, Never>) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                Console.error("\nstopping: signal \(signalNumber) received; cancelling the run")
                task.cancel()
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        sources.forEach { $0.cancel() }
    }
}
