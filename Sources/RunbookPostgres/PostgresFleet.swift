import Foundation
import PostgresNIO
import RunbookCore
import RunbookModel
import Synchronization

/// The lease and the engines' heartbeats, in the records database several engines share. The
/// lease is one row, taken or renewed by one statement whose expiry is the server's clock plus
/// the lease's time to live: engines' clocks never have to agree. Its calls give up within a
/// fraction of the lease (`patience`), so that a leader cut off from the server notices in time
/// to stop its duties before the lease can pass to another engine.
public final class PostgresFleet: FleetStore, Sendable {
    private let database: PostgresDatabase
    private let patience: Duration
    /// The engine names this process has beaten under.
    private let beaten = Mutex<Set<String>>([])

    init(_ database: PostgresDatabase, patience: Duration = .seconds(2)) {
        self.database = database
        self.patience = patience
    }

    /// The lease's holder: the engine's name and this process, so that two engines given the same
    /// name (a configuration copied without changing it) never both count as its holder.
    static func holder(_ engine: String) -> String { "\(engine)#\(ProcessIdentity.current)" }

    public func lead(engine: String, ttl: Duration) async throws -> Int64? {
        let milliseconds = ttl.milliseconds
        let engine = Self.holder(engine)
        return try await database.withConnection(patience: .some(patience)) { connection in
            try await connection.row("""
                INSERT INTO engine_lease (lease, holder, term, expires_at) VALUES ('leader', \(engine), 1, now() + \(milliseconds) * interval '1 millisecond')
                ON CONFLICT (lease) DO UPDATE SET
                    term = CASE WHEN engine_lease.holder = excluded.holder AND engine_lease.expires_at > now() THEN engine_lease.term ELSE engine_lease.term + 1 END,
                    holder = excluded.holder, expires_at = excluded.expires_at
                WHERE engine_lease.holder = excluded.holder OR engine_lease.expires_at <= now()
                RETURNING term
                """) { try $0("term", as: Int64.self) }
        }
    }

    public func release(engine: String) async throws {
        let engine = Self.holder(engine)
        try await database.withConnection(patience: .some(patience)) { connection in
            try await connection.sql("UPDATE engine_lease SET expires_at = now() WHERE holder = \(engine) AND expires_at > now()")
        }
    }

    public func beat(_ beat: EngineBeat) async throws -> String? {
        let first = beaten.withLock { $0.insert(beat.name).inserted }
        let previous = try await database.withConnection(patience: .some(patience)) { connection in
            try await connection.row("""
                WITH before AS (SELECT host, pid FROM engines WHERE name = \(beat.name)),
                written AS (
                    INSERT INTO engines (name, host, pid, version, started_at, last_beat, flows_up, flows_total)
                    VALUES (\(beat.name), \(beat.host), \(Int(beat.pid)), \(beat.version), \(Stamp(beat.startedAt)), now(), \(beat.flowsUp), \(beat.flowsTotal))
                    ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, version = excluded.version, started_at = excluded.started_at,
                        last_beat = excluded.last_beat, flows_up = excluded.flows_up, flows_total = excluded.flows_total, stopped_at = NULL
                    RETURNING 1
                )
                SELECT (SELECT host || ' pid ' || pid FROM before WHERE host != \(beat.host) OR pid != \(Int(beat.pid))) AS other FROM written
                """) { try $0("other", as: String?.self) } ?? nil
        }
        return first ? nil : previous
    }

    public func leave(engine: String) async throws {
        try await database.withConnection(patience: .some(patience)) { connection in
            try await connection.sql("UPDATE engines SET stopped_at = now() WHERE name = \(engine)")
        }
    }

    public func interruptRuns(ofEnginesSilentFor silentFor: Duration, besides: String) async throws -> [Int64] {
        let milliseconds = silentFor.milliseconds
        return try await database.withTransaction(patience: .some(patience)) { connection in
            let runs = try await connection.rows("""
                SELECT r.id, r.engine FROM runs r JOIN engines e ON e.name = r.engine
                WHERE r.status = 'running' AND r.engine != \(besides) AND e.stopped_at IS NULL
                    AND e.last_beat < now() - \(milliseconds) * interval '1 millisecond'
                FOR UPDATE OF r
                """) { (id: try $0("id", as: Int64.self), engine: try $0("engine", as: String.self)) }
            for run in runs {
                let inFlight = try await connection.row(
                    "SELECT step_id FROM step_attempts WHERE run_id = \(run.id) AND status = 'running' ORDER BY id DESC LIMIT 1"
                ) { try $0("step_id", as: String.self) }
                let reason = "interrupted: engine \(run.engine) stopped beating" + (inFlight.map { " while step '\($0)' was in flight" } ?? " between steps")
                try await connection.sql("UPDATE step_attempts SET status = 'interrupted', finished_at = now(), error = 'interrupted' WHERE run_id = \(run.id) AND status = 'running'")
                try await connection.sql("UPDATE runs SET status = 'interrupted', finished_at = now(), error = \(reason) WHERE id = \(run.id)")
            }
            return runs.map(\.id)
        }
    }

    public func members() async throws -> [FleetMember] {
        try await database.withConnection { connection in
            try await connection.rows("""
                SELECT e.*, extract(epoch FROM now() - e.last_beat)::double precision AS silent_for,
                    (l.holder IS NOT NULL) AS leading, l.term AS term, (e.stopped_at IS NOT NULL) AS stopped
                FROM engines e LEFT JOIN engine_lease l ON split_part(l.holder, '#', 1) = e.name AND l.expires_at > now()
                ORDER BY e.name
                """) { row in
                FleetMember(
                    beat: EngineBeat(
                        name: try row("name"), host: try row("host"), pid: Int32(try row("pid", as: Int.self)), version: try row("version"),
                        startedAt: try row.date("started_at"), flowsUp: try row("flows_up"), flowsTotal: try row("flows_total")
                    ),
                    lastBeat: try row.date("last_beat"), silentFor: try row("silent_for"), leading: try row("leading"), term: try row("term"),
                    stopped: try row("stopped")
                )
            }
        }
    }
}
