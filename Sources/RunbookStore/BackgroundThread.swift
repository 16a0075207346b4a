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

    /// Runs `work` on the thread and returns its result. With a `fallback`, the same work is also
    /// given to that thread after `patience` (real time): whichever starts it first runs it, so
    /// work given to an idle-priority thread on cores that stay busy still gets done.
    func run<T: Sendable>(
        _ work: @escaping @Sendable () throws -> T, fallback: BackgroundThread? = nil, patience: Duration = .zero
    ) async throws -> T {
        let claim = Claim()
        return try await withCheckedThrowingContinuation { continuation in
            let job: @Sendable () -> Void = {
                guard claim.take() else { return }
                continuation.resume(with: Result { try work() })
            }
            // Once stopped, the caller's own thread does the work.
            guard enqueue(job) else { return job() }
            if let fallback {
                Task {
                    try? await Task.sleep(for: patience)
                    if !fallback.enqueue(job) { job() }
                }
            }
        }
    }

    /// Queues a job; false once stopped.
    private func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = jobs.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.queue.append(job)
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    /// Ends the thread once the jobs already given have run.
    func stop() {
        jobs.withLock { $0.stopped = true }
        wake.signal()
    }
}

/// Lets one of several threads given the same job run it.
private final class Claim: Sendable {
    private let taken = Atomic<Bool>(false)

    /// True for the first caller only.
    func take() -> Bool {
        !taken.exchange(true, ordering: .acquiringAndReleasing)
    }
}
