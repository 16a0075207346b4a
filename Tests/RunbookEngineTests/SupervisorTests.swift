import Clocks
import Foundation
import Logging
import RunbookEngine
import Synchronization
import Testing

/// A unit that stops whenever the test says so.
final class CrashingUnit: SupervisedUnit {
    let name = "crasher"
    let ports: [Int] = []
    private let state = Mutex<(starts: Int, waiting: [CheckedContinuation<String, Never>])>((0, []))

    var starts: Int { state.withLock { $0.starts } }
    var isWaitedOn: Bool { state.withLock { !$0.waiting.isEmpty } }

    func start() throws {
        state.withLock { $0.starts += 1 }
    }

    func finished() async -> String {
        await withCheckedContinuation { continuation in state.withLock { $0.waiting.append(continuation) } }
    }

    /// Makes the running instance stop, as a crash would; false if none was waiting yet.
    func crash() -> Bool {
        let waiting = state.withLock { state -> [CheckedContinuation<String, Never>] in
            defer { state.waiting = [] }
            return state.waiting
        }
        waiting.forEach { $0.resume(returning: "crashed") }
        return !waiting.isEmpty
    }

    func stop() async {
        _ = crash()
    }

    func verify() -> String? { nil }
}

@Suite struct RestartBudgetTests {
    @Test func fastAndSlowCrashLoopsBothSpendTheBudget() {
        let clock = TestClock()
        var fast = RestartBudget<TestClock<Duration>>(policy: RestartPolicy(wait: .seconds(30), budget: 3))
        let start = clock.now
        #expect(fast.crashed(at: start.advanced(by: .seconds(1)), upSince: start) == .seconds(30))
        #expect(fast.crashed(at: start.advanced(by: .seconds(40)), upSince: start.advanced(by: .seconds(31))) == .seconds(60))
        #expect(fast.crashed(at: start.advanced(by: .seconds(110)), upSince: start.advanced(by: .seconds(100))) == .seconds(120))
        #expect(fast.crashed(at: start.advanced(by: .seconds(240)), upSince: start.advanced(by: .seconds(230))) == nil)

        // A crash every 15 minutes: each run is up for a while, yet the fourth restart would be inside the hour.
        var slow = RestartBudget<TestClock<Duration>>(policy: RestartPolicy(budget: 3))
        var time = start
        var verdicts: [Bool] = []
        for _ in 0..<4 {
            let up = time
            time = time.advanced(by: .seconds(15 * 60))
            verdicts.append(slow.crashed(at: time, upSince: up) != nil)
        }
        #expect(verdicts == [true, true, true, false])
    }

    @Test func anHourOfStabilityStartsTheCountAgain() {
        let start = TestClock().now
        var budget = RestartBudget<TestClock<Duration>>(policy: RestartPolicy(budget: 1))
        #expect(budget.crashed(at: start.advanced(by: .seconds(10)), upSince: start) != nil)
        let restarted = start.advanced(by: .seconds(40))
        #expect(budget.crashed(at: restarted.advanced(by: .seconds(3600)), upSince: restarted) != nil)
    }
}

@Suite struct SupervisorTests {
    @Test func aCrashLoopIsRestartedThenGivesUp() async throws {
        let clock = TestClock()
        let unit = CrashingUnit()
        let changes = Mutex<[String]>([])
        let supervisor = Supervisor(
            unit: unit, policy: RestartPolicy(wait: .seconds(30), budget: 3), clock: clock, logger: Logger(label: "test"),
            onChange: { status in changes.withLock { $0.append(status.state.rawValue) } }
        )
        try supervisor.startFirst()
        let task = Task { await supervisor.supervise() }
        for _ in 0..<4 {
            while !unit.crash() { await Task.yield() }
            while supervisor.status.state == .running { await Task.yield() }
            await clock.advance(by: .seconds(600))
            while supervisor.status.state == .starting || supervisor.status.state == .failed { await clock.advance(by: .seconds(1)) }
        }
        #expect(supervisor.status.state == .gaveUp)
        #expect(unit.starts == 4)
        #expect(supervisor.status.restarts == 3)
        #expect(supervisor.status.lastError == "crashed")
        task.cancel()
        await task.value
        #expect(changes.withLock { $0 }.filter { $0 == "running" }.count == 4)
    }
}

@Suite struct RequestedRestartTests {
    @Test func aRestartAskedForIsVerifiedAndCountsAgainstTheBudget() async throws {
        let clock = TestClock()
        let unit = CrashingUnit()
        let supervisor = Supervisor(unit: unit, policy: RestartPolicy(wait: .seconds(30), budget: 1), clock: clock, logger: Logger(label: "test"))
        try supervisor.startFirst()
        let task = Task { await supervisor.supervise() }
        // The unit must be waited on before it can be stopped.
        while !unit.isWaitedOn { await Task.yield() }
        let restarting = Task { await supervisor.restartNow() }
        // Verification waits a second of the supervisor's clock before it says yes.
        while unit.starts < 2 { await Task.yield() }
        while supervisor.status.state != .running { await clock.advance(by: .milliseconds(500)) }
        #expect(await restarting.value == nil)
        #expect(unit.starts == 2)
        #expect(supervisor.restartsInWindow == 1)
        // The budget of one is spent: the next request is refused and nothing is stopped.
        let refused = await supervisor.restartNow()
        #expect(refused?.contains("budget") == true)
        #expect(unit.starts == 2)
        #expect(supervisor.status.state == .running)
        task.cancel()
        await task.value
    }

    @Test func aRestartAskedForCutsTheWaitAfterACrashShort() async throws {
        let clock = TestClock()
        let unit = CrashingUnit()
        let supervisor = Supervisor(unit: unit, policy: RestartPolicy(wait: .seconds(300), budget: 3), clock: clock, logger: Logger(label: "test"))
        try supervisor.startFirst()
        let task = Task { await supervisor.supervise() }
        while !unit.crash() { await Task.yield() }
        while supervisor.status.state != .failed { await Task.yield() }
        let restarting = Task { await supervisor.restartNow() }
        // No five minutes pass on the supervisor's clock: the request ends the wait.
        while unit.starts < 2 { try await Task.sleep(for: .milliseconds(10)) }
        while supervisor.status.state != .running { await clock.advance(by: .milliseconds(500)) }
        #expect(await restarting.value == nil)
        task.cancel()
        await task.value
    }
}
