import Foundation
import Synchronization
@testable import RunbookStore
import Testing

@Suite struct BackgroundThreadTests {
    /// Work for the idle-priority thread runs under SCHED_IDLE; work it has not started within
    /// its patience (the thread is busy, as on cores that never go idle) is done by the fallback.
    @Test func workTheIdleThreadCannotStartIsDoneByTheNormalOne() async throws {
        let quiet = BackgroundThread(name: "quiet", priority: .idle)
        let urgent = BackgroundThread(name: "urgent", priority: .normal)
        defer {
            quiet.stop()
            urgent.stop()
        }
        let idlePolicy: Int32 = 5
        #expect(try await quiet.run { sched_getscheduler(0) } == idlePolicy)
        #expect(try await urgent.run { sched_getscheduler(0) } == 0)

        let gate = DispatchSemaphore(value: 0)
        let blocker = Task { try await quiet.run { gate.wait() } }
        try await Task.sleep(for: .milliseconds(50))
        let runs = RunCount()
        let policy = try await quiet.run({ () -> Int32 in
            runs.add()
            return sched_getscheduler(0)
        }, fallback: urgent, patience: .milliseconds(100))
        #expect(policy == 0)
        gate.signal()
        try await blocker.value
        // The idle thread, free again, finds the job taken and does not run it twice.
        #expect(try await quiet.run { runs.value } == 1)
    }
}

final class RunCount: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
