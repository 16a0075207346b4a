import Foundation
import Logging
import PostgresNIO
import RunbookCore
import RunbookEngine
import RunbookEscalation
import RunbookExecutor
import RunbookModel
import RunbookPostgres
import RunbookSQLite
import RunbookTestSupport
import ServiceLifecycle
import Synchronization

/// The records on PostgreSQL against the records on SQLite, in the same run: the per-step
/// overhead of 1,000 no-op steps (with no records as the floor), and the outbox's delivery rate
/// to a channel that takes every message at once (the store's share of a delivery), for one
/// engine and for two engines of a fleet (only the leader delivers). The server is a throwaway
/// PostgreSQL 15 cluster on this machine with its durability defaults, or the one
/// `RUNBOOK_BENCH_POSTGRES_URL` names.
struct RecordsBench {
    let scratch: URL
    let rounds: Int

    func run() async throws {
        let server: PostgresServer?
        let url: String
        if let given = ProcessInfo.processInfo.environment["RUNBOOK_BENCH_POSTGRES_URL"] {
            (server, url) = (nil, given)
        } else {
            server = try await PostgresServer.start(durable: true)
            url = try await server!.makeDatabase()
        }
        _ = server
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let sqlite = try RecordsDatabase(path: scratch.appendingPathComponent("records-bench.db").path)
        let postgres = try await PostgresRecords.open(url: PostgresURL(url), engine: "bench")
        defer { postgres.close() }

        let noop = try runbook(name: "noop", steps: 1000, step: "log: {message: nothing, level: debug}")
        // The server's own floor: one round trip per step, the statement a step costs (an insert
        // returning its id, committed as run records are), straight through PostgresNIO's pool.
        var configuration = try PostgresStoreBench.configuration(url)
        configuration.options.additionalStartupParameters = [("synchronous_commit", "off")]
        let raw = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "bench"))
        let running = Task { await raw.run() }
        defer { running.cancel() }
        try await raw.query("CREATE TABLE raw_steps (id bigserial PRIMARY KEY, run_id bigint, step_id text, status text, started_at timestamptz)")
        var onSQLite: [Double] = [], onPostgres: [Double] = [], none: [Double] = [], roundTrips: [Double] = []
        // Alternately, so that the machine's state weighs on each alike.
        for _ in 0..<rounds {
            onSQLite.append(await seconds { _ = await executor(sqlite.runs).run(noop, params: [:], trigger: .manual) })
            onPostgres.append(await seconds { _ = await executor(postgres.runs).run(noop, params: [:], trigger: .manual) })
            none.append(await seconds { _ = await executor(NoRecords()).run(noop, params: [:], trigger: .manual) })
            roundTrips.append(try await seconds {
                for step in 0..<noop.steps.count {
                    let rows = try await raw.query("INSERT INTO raw_steps (run_id, step_id, status, started_at) VALUES (1, \("step-\(step)"), 'running', \(Date())) RETURNING id")
                    for try await _ in rows {}
                }
            })
        }
        let perStep = { (values: [Double]) in median(values) * 1e6 / Double(noop.steps.count) }
        print("records: per-step overhead, 1,000 no-op steps (median of \(rounds) runs)")
        print(String(format: "  PostgreSQL records         %7.1f us/step", perStep(onPostgres)))
        print(String(format: "  baseline, SQLite records   %7.1f us/step", perStep(onSQLite)))
        print(String(format: "  floor, no records          %7.1f us/step", perStep(none)))
        print(String(format: "  floor, one raw round trip  %7.1f us/step   (PostgresNIO's pool, the insert a step costs)", perStep(roundTrips)))
        print(String(format: "  ratio                      %7.2f x     goal <= 3 (the round trip alone is %.2f x)", perStep(onPostgres) / perStep(onSQLite), perStep(roundTrips) / perStep(onSQLite)))

        let messages = 2000
        let sqliteRate = try await outboxRate(store: sqlite.incidents, messages: messages, leaders: [])
        let postgresRate = try await outboxRate(store: postgres.incidents, messages: messages, leaders: [])
        var quiet = Logger(label: "bench")
        quiet.logLevel = .error
        let keeperA = LeaseKeeper(store: postgres.fleet, engine: "bench-a", ttl: .seconds(10), clock: ContinuousClock(), logger: quiet) { Self.beat("bench-a") }
        let keeperB = LeaseKeeper(store: postgres.fleet, engine: "bench-b", ttl: .seconds(10), clock: ContinuousClock(), logger: quiet) { Self.beat("bench-b") }
        await keeperA.round()
        await keeperB.round()
        let one = try await outboxRate(store: postgres.incidents, messages: messages, leaders: [keeperA])
        let two = try await outboxRate(store: postgres.incidents, messages: messages, leaders: [keeperA, keeperB])
        print("records: outbox delivery to a channel that takes each message at once, \(messages) messages")
        print(String(format: "  PostgreSQL records, one engine              %7.0f msg/s", postgresRate))
        print(String(format: "  baseline, SQLite records                    %7.0f msg/s", sqliteRate))
        print(String(format: "  PostgreSQL, one engine of a fleet (leads)   %7.0f msg/s", one))
        print(String(format: "  PostgreSQL, two engines (one leads)         %7.0f msg/s   %.2fx of one", two, two / one))
    }

    static func beat(_ name: String) -> EngineBeat {
        EngineBeat(name: name, host: "bench", pid: getpid(), version: Release.version, startedAt: Date(), flowsUp: 0, flowsTotal: 0)
    }

    /// Messages per second the outbox delivers: `messages` queued, then delivered by one worker,
    /// or by one per engine of `leaders`, each running only while its engine leads.
    func outboxRate(store: any IncidentStore, messages: Int, leaders: [LeaseKeeper<ContinuousClock>]) async throws -> Double {
        let channel = TakesEverything()
        let now = Date()
        try await store.enqueue((0..<messages).map {
            OutboxEntry(incidentID: 0, sequence: $0, channel: channel.name, level: 2, severity: "warning", subject: "bench \($0)", body: "message \($0)", createdAt: now)
        })
        let policy = EscalationPolicy()
        var quiet = Logger(label: "bench")
        quiet.logLevel = .error
        let logger = quiet
        let make = { @Sendable in OutboxWorker(store: store, channels: [channel], policy: policy, clock: ContinuousClock(), logger: logger, poll: .milliseconds(5)) }
        // The engines' lease keepers run beside their workers, as in `runbook up`.
        let services: [any Service] = leaders.isEmpty ? [make()] : leaders + leaders.map { leader in LeaderOnly(leader) { make() } }
        let started = ContinuousClock.now
        let group = ServiceGroup(services: services, logger: logger)
        let running = Task { try await group.run() }
        while channel.delivered.load(ordering: .relaxed) < messages { try await Task.sleep(for: .milliseconds(2)) }
        let elapsed = ContinuousClock.now - started
        await group.triggerGracefulShutdown()
        _ = await running.result
        return Double(messages) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

/// A channel that takes every message at once and counts them.
final class TakesEverything: NotificationChannel {
    let name = "bench"
    let minimumInterval: Duration = .zero
    let delivered = Atomic(0)

    func deliver(_ message: OutgoingMessage) async -> DeliveryResult {
        delivered.add(1, ordering: .relaxed)
        return .delivered
    }
}
