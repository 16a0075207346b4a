import Clocks
import Foundation
import RunbookEscalation
import RunbookModel
import RunbookSQLite
import Synchronization
import Testing

/// A channel that answers from a script, so the worker's rules can be walked step by step; the
/// real channels are tested against real servers with their own tests.
final class ScriptedChannel: NotificationChannel {
    let name: String
    let minimumInterval: Duration = .seconds(1)
    private let answers: Mutex<[DeliveryResult]>
    private let received = Mutex<[OutgoingMessage]>([])

    init(_ name: String, answers: [DeliveryResult]) {
        self.name = name
        self.answers = Mutex(answers)
    }

    /// Answers `.delivered` once the script is used up.
    func deliver(_ message: OutgoingMessage) async -> DeliveryResult {
        received.withLock { $0.append(message) }
        return answers.withLock { $0.isEmpty ? .delivered : $0.removeFirst() }
    }

    var messages: [OutgoingMessage] { received.withLock { $0 } }
}

@Suite struct OutboxWorkerTests {
    func worker(_ harness: DeskHarness, _ channels: [any NotificationChannel], policy: EscalationPolicy = EscalationPolicy()) -> OutboxWorker<TestClock<Duration>> {
        let time = harness
        return OutboxWorker(store: harness.records.incidents, channels: channels, policy: policy, clock: TestClock(), now: { time.now })
    }

    @Test func aChannelThatIsDownGetsEveryMessageInOrderOnceItIsBack() async throws {
        let harness = try DeskHarness(channels: ["ops-telegram"])
        let telegram = ScriptedChannel("ops-telegram", answers: [
            .retry(after: nil, reason: "connection refused"), .retry(after: nil, reason: "connection refused"),
            .retry(after: .seconds(30), reason: "429 Too Many Requests"),
        ])
        let worker = worker(harness, [telegram])
        _ = try await harness.critical("market-data")
        _ = try await harness.healthy("market-data")

        #expect(await worker.attempt(telegram) == .failed)
        // Waits 1 s, then 2 s (doubling), then what the channel asked for.
        #expect(await worker.attempt(telegram) == .waiting(until: harness.now.addingTimeInterval(1)))
        harness.advance(1)
        #expect(await worker.attempt(telegram) == .failed)
        harness.advance(1)
        #expect(await worker.attempt(telegram) == .waiting(until: harness.now.addingTimeInterval(1)))
        harness.advance(1)
        #expect(await worker.attempt(telegram) == .failed)
        harness.advance(29)
        guard case .waiting = await worker.attempt(telegram) else { Issue.record("retry_after was not honoured"); return }
        harness.advance(1)
        #expect(await worker.attempt(telegram) == .sent)
        #expect(await worker.attempt(telegram) == .sent)
        #expect(await worker.attempt(telegram) == .idle)
        // The opening first, then the resolve; each sent once it got through.
        let delivered = telegram.messages.suffix(2)
        #expect(delivered.map(\.sequence) == [1, 2])
        #expect(try await harness.messages.map(\.state) == [.delivered, .delivered])
        #expect(try await harness.messages.first?.attempts == 4)
    }

    @Test func anUncertainMessageIsNotResentAndTheNextOneGoesOn() async throws {
        let harness = try DeskHarness(channels: ["ops-telegram"])
        let telegram = ScriptedChannel("ops-telegram", answers: [.uncertain(reason: "timed out after sending")])
        let worker = worker(harness, [telegram])
        _ = try await harness.critical("market-data")
        _ = try await harness.healthy("market-data")
        #expect(await worker.attempt(telegram) == .failed)
        #expect(await worker.attempt(telegram) == .sent)
        #expect(await worker.attempt(telegram) == .idle)
        #expect(telegram.messages.map(\.sequence) == [1, 2])
        #expect(try await harness.messages.map(\.state) == [.uncertain, .delivered])
        // A person can send it again.
        let first = try #require(try await harness.messages.first)
        _ = try await harness.records.incidents.resend(first.id, at: harness.now)
        #expect(await worker.attempt(telegram) == .sent)
        #expect(telegram.messages.map(\.sequence) == [1, 2, 1])
    }

    @Test func repeatedFailuresDivertToTheFallbackChannel() async throws {
        var policy = EscalationPolicy()
        policy.levels = [2: .init(channels: ["ops-telegram"], climbAfter: nil)]
        policy.fallback = ["ops-telegram": "ops-email"]
        policy.fallbackAfter = 3
        let harness = try DeskHarness(policy: policy)
        let telegram = ScriptedChannel("ops-telegram", answers: Array(repeating: .retry(after: nil, reason: "502 Bad Gateway"), count: 10))
        let email = ScriptedChannel("ops-email", answers: [])
        let worker = worker(harness, [telegram, email], policy: policy)
        let incident = try await harness.critical("market-data")
        for _ in 0..<3 {
            await worker.attempt(telegram)
            harness.advance(60)
        }
        #expect(await worker.attempt(email) == .sent)
        #expect(email.messages.first?.incidentID == incident.id)
        let rows = try await harness.messages
        #expect(rows.map(\.state) == [.diverted, .delivered])
        #expect(rows.last?.fallbackOf == rows.first?.id)
        #expect(rows.first?.lastError?.contains("502 Bad Gateway") == true)
    }

    @Test func aRejectedMessageWithoutFallbackIsKeptAsRejected() async throws {
        let harness = try DeskHarness(channels: ["ops-telegram"])
        let telegram = ScriptedChannel("ops-telegram", answers: [.rejected(reason: "400 Bad Request: chat not found")])
        let worker = worker(harness, [telegram])
        _ = try await harness.critical("market-data")
        #expect(await worker.attempt(telegram) == .failed)
        #expect(await worker.attempt(telegram) == .idle)
        #expect(try await harness.messages.first?.state == .rejected)
    }

    @Test func aSendCutShortByAStopIsUncertainAfterTheRestart() async throws {
        let harness = try DeskHarness(channels: ["ops-telegram"])
        _ = try await harness.critical("market-data")
        var row = try #require(try await harness.messages.first)
        row.state = .sending
        try await harness.records.incidents.updateOutbox(row)
        #expect(try await harness.records.incidents.markInterruptedSends() == 1)
        #expect(try await harness.messages.first?.state == .uncertain)
    }
}
