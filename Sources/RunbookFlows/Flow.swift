import Foundation
import Logging
import RunbookZMQ
import Synchronization

/// One of the engine's ZeroMQ flows: it opens its sockets, then serves turn by turn on a thread of
/// its own until stopped. Its sockets are only ever used by that thread (or before it starts).
public protocol Flow: AnyObject, Sendable {
    var name: String { get }
    var counters: FlowCounters { get }
    /// The endpoints the flow binds, as configured; a restart is verified by binding them again.
    var bindEndpoints: [String] { get }
    /// The endpoints bound by the last `open`, with the ports libzmq chose for `:*`.
    var listening: [String] { get }
    /// Creates, binds and connects the sockets. A port in use fails here, naming the port.
    func open(_ context: ZMQContext) throws(ZMQError)
    /// Waits at most `timeout` for messages, then handles what arrived.
    func serve(timeout: Duration) throws(ZMQError)
    /// Closes the sockets (linger 0).
    func close()
}

/// Runs a flow's loop on a dedicated thread: blocking polls stay off the async executors.
public final class FlowThread: Sendable {
    public let flow: any Flow
    private let stopRequested = Atomic<Bool>(false)
    /// When the loop last finished a turn (milliseconds on the continuous clock), for liveness checks.
    private let lastTurn = Atomic<Int64>(0)
    private static let origin = ContinuousClock.now

    private static func nowMilliseconds() -> Int64 {
        let elapsed = origin.duration(to: .now)
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }

    /// How long since the loop last finished a turn; nil once it has ended.
    public var sinceLastTurn: Duration? {
        guard !ended.withLock({ $0.done }) else { return nil }
        return .milliseconds(Self.nowMilliseconds() - lastTurn.load(ordering: .relaxed))
    }
    private let ended = Mutex<(done: Bool, error: ZMQError?, waiters: [CheckedContinuation<ZMQError?, Never>])>((false, nil, []))

    public init(_ flow: any Flow) {
        self.flow = flow
    }

    /// Starts serving; the flow must be open.
    public func start() {
        lastTurn.store(Self.nowMilliseconds(), ordering: .relaxed)
        let thread = Thread { [self] in
            var failure: ZMQError?
            while !stopRequested.load(ordering: .relaxed) {
                do {
                    try flow.serve(timeout: .milliseconds(100))
                    lastTurn.store(Self.nowMilliseconds(), ordering: .relaxed)
                } catch let error as ZMQError {
                    if !error.contextTerminated { failure = error }
                    break
                } catch {
                    break
                }
            }
            if failure == nil { drain() }
            flow.close()
            let waiters = ended.withLock { state in
                state.done = true
                state.error = failure
                defer { state.waiters = [] }
                return state.waiters
            }
            waiters.forEach { $0.resume(returning: failure) }
        }
        thread.name = flow.name
        thread.start()
    }

    public func stop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    /// Before closing (linger 0 drops what is queued), handles what has already arrived: until a
    /// turn brings nothing, for at most a second.
    private func drain() {
        let deadline = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < deadline {
            let before = flow.counters.snapshot.received
            guard (try? flow.serve(timeout: .milliseconds(50))) != nil, flow.counters.snapshot.received != before else { return }
        }
    }

    /// Waits until the loop has ended and the sockets are closed; the error that ended it, if any.
    public func finished() async -> ZMQError? {
        await withCheckedContinuation { continuation in
            let result: ZMQError?? = ended.withLock { state in
                if state.done { return .some(state.error) }
                state.waiters.append(continuation)
                return .none
            }
            if case .some(let error) = result { continuation.resume(returning: error) }
        }
    }
}
