import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A thread of its own that runs the jobs given to it one at a time, optionally only when the
/// cores have nothing else to do. Storing ticks runs here: the synchronous SQLite work stays off
/// the async executors, and while the flows relay, they get the cores first.
final class BackgroundThread: Sendable {
    enum Priority {
        case normal
        /// Linux's SCHED_IDLE: runs only when no other thread wants the core, and gives it up the
        /// moment one wakes (a higher nice value is not enough: the scheduler lets such a thread
        /// finish its slice, milliseconds, while a relaying thread waits).
        case idle
    }

    private let jobs = Mutex<(queue: [@Sendable () -> Void], stopped: Bool)>(([], false))
    private let wake = DispatchSemaphore(value: 0)

    init(name: String, priority: Priority) {
        let thread = Thread { [self] in
            if priority == .idle { Self.runWhenIdle() }
            while true {
                wake.wait()
                let job = jobs.withLock { state -> (@Sendable () -> Void)? in
                    state.queue.isEmpty ? nil : state.queue.removeFirst()
                }
                guard let job else { return }
                job()
            }
        }
        thread.name = name
        thread.start()
    }

    /// Puts the calling thread under SCHED_IDLE (allowed without privileges: it only lowers it).
    private static func runWhenIdle() {
        #if os(Linux)
        var parameters = sched_param()
        parameters.sched_priority = 0
        // SCHED_IDLE is 5 in <sched.h>; glibc declares it only under _GNU_SOURCE.
        _ = pthread_setschedparam(pthread_self(), 5, &parameters)
        #endif
    }

    /// Runs `work` on the thread and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = jobs.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.queue.append { continuation.resume(with: Result { try work() }) }
                return true
            }
            // Once stopped, the caller's own thread does the work.
            guard accepted else { return continuation.resume(with: Result { try work() }) }
            wake.signal()
        }
    }

    /// Ends the thread once the jobs already given have run.
    func stop() {
        jobs.withLock { $0.stopped = true }
        wake.signal()
    }
}
