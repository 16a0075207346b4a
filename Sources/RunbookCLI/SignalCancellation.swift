import Dispatch
import Foundation

/// Cancels a task on SIGINT or SIGTERM, so that a run stops its steps and records `cancelled`.
final class SignalCancellation: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []

    init(cancelling task: Task<some Sendable, Never>, quietly: Bool = false) {
        for (signalNumber, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if !quietly { Console.error("\nstopping: \(name) received; cancelling the run") }
                task.cancel()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// A process started by a supervisor may inherit these signals blocked; a stop request must reach us.
    static func unblockStopSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }

    deinit {
        sources.forEach { $0.cancel() }
    }
}
