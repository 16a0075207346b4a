import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The records in PostgreSQL, port by port as `RecordsDatabase` keeps them in SQLite, for one
/// engine among those that may share the database: what is local (runs it started, its flows'
/// records, its checks' journal) is kept under the engine's name; what is shared (the schedule's
/// marks, incidents, silences, the outbox) is not. Opening migrates the schema (scope `records`
/// of `runbook_migrations`) and marks this engine's runs whose process is gone as `interrupted`.
public final class PostgresRecords: Sendable {
    public let database: PostgresDatabase
    /// Runs and step attempts: committed without waiting for the server's disk, as the SQLite
    /// records commit without waiting for theirs (`synchronous=NORMAL`): a crash of the engine
    /// loses none, a crash of the server's machine the last fraction of a second. A step costs
    /// one round trip instead of a disk flush. Everything else waits for the disk.
    let journal: PostgresDatabase
    /// The engine these records are written for.
    public let engine: String
    public let runs: PostgresRunRecorder
    public let flows: PostgresFlowStore
    public let checks: PostgresCheckJournal
    public let schedule: PostgresSchedulerState
    public let incidents: PostgresIncidentStore
    /// The lease and the engines' heartbeats.
    public let fleet: PostgresFleet

    private init(database: PostgresDatabase, journal: PostgresDatabase, engine: String) {
        self.database = database
        self.journal = journal
        self.engine = engine
        runs = PostgresRunRecorder(journal, engine: engine)
        flows = PostgresFlowStore(database, engine: engine)
        checks = PostgresCheckJournal(database, engine: engine)
        schedule = PostgresSchedulerState(database)
        incidents = PostgresIncidentStore(database, engine: engine)
        fleet = PostgresFleet(database)
    }

    /// Connects, makes or migrates the schema, and marks the runs this engine left `running` when
    /// its process died.
    public static func open(url: PostgresURL, engine: String, patience: Duration = .seconds(10), logger: Logger = Logger(label: "runbook.records")) async throws -> PostgresRecords {
        let records = PostgresRecords(
            database: PostgresDatabase(url: url, patience: patience, logger: logger),
            journal: PostgresDatabase(url: url, patience: patience, durable: false, logger: logger), engine: engine
        )
        do {
            try await records.database.probe()
            try await records.database.migrate(scope: "records", migrations)
            try await records.runs.markInterruptedRuns()
        } catch {
            records.close()
            throw PostgresStoreError("cannot open the records: \(error)", sqlState: (error as? PostgresStoreError)?.sqlState)
        }
        return records
    }

    /// Stops the records' connections.
    public func close() {
        database.close()
        journal.close()
    }

    static let migrations: [(name: String, sql: String)] = [
        ("v1: runs, flows, checks, schedule, incidents, outbox", """
            CREATE TABLE runs (
                id bigserial PRIMARY KEY, engine text NOT NULL, runbook text NOT NULL, content_hash text NOT NULL, trigger text NOT NULL,
                trigger_source text, due_at timestamptz, params text NOT NULL, parent_run_id bigint REFERENCES runs (id),
                started_at timestamptz NOT NULL, finished_at timestamptz, status text NOT NULL, escalation_level integer NOT NULL DEFAULT 0,
                error text, owner text NOT NULL
            );
            CREATE INDEX runs_by_runbook ON runs (runbook);
            CREATE INDEX runs_by_status ON runs (status);
            CREATE INDEX runs_by_started_at ON runs (started_at);
            CREATE INDEX runs_by_source ON runs (trigger_source, started_at);
            CREATE INDEX runs_by_parent ON runs (parent_run_id);
            CREATE TABLE step_attempts (
                id bigserial PRIMARY KEY, run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE, step_index integer NOT NULL,
                step_id text NOT NULL, primitive text NOT NULL, attempt integer NOT NULL, started_at timestamptz NOT NULL,
                finished_at timestamptz, duration_ms double precision, status text NOT NULL, exit_code integer,
                output text NOT NULL DEFAULT '', error text
            );
            CREATE INDEX step_attempts_by_run ON step_attempts (run_id);
            CREATE TABLE ea_instances (
                engine text NOT NULL, target_uuid text NOT NULL, account text, first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL, heartbeats bigint NOT NULL DEFAULT 0, PRIMARY KEY (engine, target_uuid)
            );
            CREATE TABLE signals (
                id bigserial PRIMARY KEY, engine text NOT NULL, signal_id text NOT NULL, symbol text NOT NULL, direction text NOT NULL,
                entry double precision, sl double precision, tp double precision, confidence double precision, time_msc bigint,
                received_at timestamptz NOT NULL, raw text NOT NULL
            );
            CREATE INDEX signals_by_time ON signals (engine, received_at);
            CREATE TABLE fires (
                engine text NOT NULL, fire_id text NOT NULL, target_uuid text NOT NULL, symbol text NOT NULL, direction text NOT NULL,
                lot double precision NOT NULL, sl double precision, tp double precision, status text NOT NULL,
                queued_at timestamptz NOT NULL, sent_at timestamptz, finished_at timestamptz, ticket bigint, price double precision, error text,
                PRIMARY KEY (engine, fire_id)
            );
            CREATE INDEX fires_by_status ON fires (engine, status, queued_at);
            CREATE INDEX fires_by_queued_at ON fires (engine, queued_at);
            CREATE INDEX fires_by_finished_at ON fires (engine, finished_at);
            CREATE TABLE trades (
                id bigserial PRIMARY KEY, engine text NOT NULL, fire_id text NOT NULL, symbol text, ticket bigint,
                exit_price double precision, pnl double precision NOT NULL, time_msc bigint, closed_at timestamptz NOT NULL
            );
            CREATE INDEX trades_by_fire ON trades (engine, fire_id);
            CREATE INDEX trades_by_closed_at ON trades (engine, closed_at);
            CREATE TABLE probes (engine text NOT NULL, probe_id text NOT NULL, received_at timestamptz NOT NULL);
            CREATE INDEX probes_by_id ON probes (engine, probe_id);
            CREATE TABLE check_changes (
                id bigserial PRIMARY KEY, engine text NOT NULL, check_name text NOT NULL, from_status text NOT NULL, to_status text NOT NULL,
                value double precision, text text NOT NULL, subject text, flapping boolean NOT NULL DEFAULT false, at timestamptz NOT NULL
            );
            CREATE INDEX check_changes_by_check ON check_changes (check_name, at);
            CREATE TABLE alerts (
                id bigserial PRIMARY KEY, engine text NOT NULL, check_name text NOT NULL, subject text, status text NOT NULL,
                message text NOT NULL, opened_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, cleared_at timestamptz, cleared_by text
            );
            CREATE INDEX alerts_open ON alerts (engine, check_name) WHERE cleared_at IS NULL;
            CREATE TABLE schedule_state (schedule text PRIMARY KEY, handled_through timestamptz NOT NULL, updated_at timestamptz NOT NULL);
            CREATE TABLE incidents (
                id bigserial PRIMARY KEY, key text NOT NULL, check_name text, subject text, title text NOT NULL, severity text NOT NULL,
                level integer NOT NULL, status text NOT NULL, opened_at timestamptz NOT NULL, level_at timestamptz NOT NULL,
                acknowledged_at timestamptz, acknowledged_by text, resolved_at timestamptz, last_sequence integer NOT NULL DEFAULT 0,
                version integer NOT NULL DEFAULT 0
            );
            CREATE UNIQUE INDEX incidents_unresolved_key ON incidents (key) WHERE status != 'resolved';
            CREATE TABLE incident_events (
                id bigserial PRIMARY KEY, incident_id bigint NOT NULL REFERENCES incidents (id), at timestamptz NOT NULL, kind text NOT NULL,
                actor text NOT NULL, detail text NOT NULL, level integer NOT NULL, run_id bigint
            );
            CREATE INDEX incident_events_incident ON incident_events (incident_id);
            CREATE TABLE silences (
                id bigserial PRIMARY KEY, check_name text NOT NULL, until timestamptz NOT NULL, reason text NOT NULL,
                created_by text NOT NULL, created_at timestamptz NOT NULL
            );
            CREATE TABLE outbox (
                id bigserial PRIMARY KEY, incident_id bigint NOT NULL, sequence integer NOT NULL, channel text NOT NULL, level integer NOT NULL,
                severity text NOT NULL, subject text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL, state text NOT NULL,
                attempts integer NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL, last_error text, delivered_at timestamptz,
                fallback_of bigint
            );
            CREATE INDEX outbox_channel_state ON outbox (channel, state, id);
            CREATE INDEX outbox_by_incident ON outbox (incident_id)
            """),
        // The lease one engine leads by, and each engine's last heartbeat.
        ("v2: fleet", """
            CREATE TABLE engine_lease (lease text PRIMARY KEY, holder text NOT NULL, term bigint NOT NULL, expires_at timestamptz NOT NULL);
            CREATE TABLE engines (
                name text PRIMARY KEY, host text NOT NULL, pid integer NOT NULL, version text NOT NULL, started_at timestamptz NOT NULL,
                last_beat timestamptz NOT NULL, flows_up integer NOT NULL, flows_total integer NOT NULL, stopped_at timestamptz
            )
            """),
        // Which engine process took an outbox message for sending.
        ("v3: outbox claims", "ALTER TABLE outbox ADD COLUMN claimed_by text"),
        // The kill switch on the command routers of the fleet: each change with who, how and why.
        ("v4: gate", """
            CREATE TABLE gate_changes (
                id bigserial PRIMARY KEY, closed boolean NOT NULL, reason text NOT NULL, by text NOT NULL, via text NOT NULL, at timestamptz NOT NULL
            )
            """),
        // Reconciliation: each EA's last positions report, and answers for fires never queued.
        ("v5: positions and unmatched answers", """
            CREATE TABLE ea_positions (
                engine text NOT NULL, target_uuid text NOT NULL, reported_at timestamptz NOT NULL, positions text NOT NULL, PRIMARY KEY (engine, target_uuid)
            );
            CREATE TABLE unmatched_answers (
                id bigserial PRIMARY KEY, engine text NOT NULL, kind text NOT NULL, fire_id text NOT NULL, ticket bigint, received_at timestamptz NOT NULL
            );
            CREATE INDEX unmatched_answers_by_time ON unmatched_answers (engine, received_at)
            """),
        // A step's outputs, for `runbook resume` to give the steps after it.
        ("v6: step outputs", "ALTER TABLE step_attempts ADD COLUMN outputs text"),
        // Runs waiting at an `approve` step, and people's answers.
        // (Named anew when the outbox's column came to name the question rather than its run;
        // idempotent, over a database the first form made.)
        ("v7: approvals, questions by id", """
            CREATE TABLE IF NOT EXISTS approvals (
                id bigserial PRIMARY KEY, run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE, step_index integer NOT NULL,
                step_id text NOT NULL, runbook text NOT NULL, message text NOT NULL, approvers text NOT NULL, min_approvals integer NOT NULL,
                requested_at timestamptz NOT NULL, deadline timestamptz, status text NOT NULL, decided_at timestamptz
            );
            CREATE INDEX IF NOT EXISTS approvals_by_run ON approvals (run_id);
            CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status);
            CREATE TABLE IF NOT EXISTS approval_votes (
                approval_id bigint NOT NULL REFERENCES approvals (id) ON DELETE CASCADE, person text NOT NULL, by text NOT NULL,
                decision text NOT NULL, reason text NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (approval_id, person)
            );
            ALTER TABLE outbox ADD COLUMN IF NOT EXISTS approval_id bigint
            """),
        // Recurring silences: by a cron in a zone for a length, or over a span of the market.
        ("v8: maintenance windows", """
            CREATE TABLE maintenance_windows (
                id bigserial PRIMARY KEY, target text NOT NULL, cron text, zone text, length_seconds bigint, during text, reason text NOT NULL,
                created_by text NOT NULL, created_at timestamptz NOT NULL, hold_runs boolean NOT NULL DEFAULT false, at_end text NOT NULL DEFAULT 'send'
            )
            """),
    ]
}

/// An instant as the records keep it: to the millisecond, as the SQLite records do, so that both
/// backends read back the same `Date`. (PostgresNIO's own `Date` truncates to the microsecond
/// below, which can turn x.123 s into x.122999.)
struct Stamp: PostgresNonThrowingEncodable, PostgresDecodable {
    var date: Date

    init(_ date: Date) {
        self.date = date
    }

    /// Microseconds from 1970 to 2000-01-01, PostgreSQL's epoch.
    private static let epochOffset: Int64 = 946_684_800_000_000

    static var psqlType: PostgresDataType { .timestamptz }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        let clamped = Int64(max(-9.0e15, min(9.0e15, milliseconds.isFinite ? milliseconds : 0)))
        byteBuffer.writeInteger(clamped * 1000 - Self.epochOffset)
    }

    init<JSONDecoder: PostgresJSONDecoder>(from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>) throws {
        guard type == .timestamptz || type == .timestamp, buffer.readableBytes == 8, let microseconds = buffer.readInteger(as: Int64.self) else {
            throw PostgresDecodingError.Code.typeMismatch
        }
        date = Date(timeIntervalSince1970: Double(microseconds + Self.epochOffset) / 1_000_000)
    }
}

/// A row's columns by name.
struct Columns {
    private let row: PostgresRandomAccessRow

    init(_ row: PostgresRow) {
        self.row = row.makeRandomAccess()
    }

    func callAsFunction<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try row[name].decode(T.self)
    }

    func date(_ name: String) throws -> Date { try self(name, as: Stamp.self).date }

    func date(optional name: String) throws -> Date? { try self(name, as: Stamp?.self)?.date }
}

extension PostgresConnection {
    /// Every row of `query`, each made into a `T`.
    func rows<T>(_ query: PostgresQuery, file: String = #fileID, line: Int = #line, _ make: (Columns) throws -> T) async throws -> [T] {
        var made: [T] = []
        for try await row in try await sql(query, file: file, line: line) { made.append(try make(Columns(row))) }
        return made
    }

    /// The first row of `query`, made into a `T`; nil when there is none.
    func row<T>(_ query: PostgresQuery, file: String = #fileID, line: Int = #line, _ make: (Columns) throws -> T) async throws -> T? {
        try await rows(query, file: file, line: line, make).first
    }

    /// How many rows a statement returned: with `RETURNING 1`, how many it changed.
    func count(_ query: PostgresQuery, file: String = #fileID, line: Int = #line) async throws -> Int {
        var count = 0
        for try await _ in try await sql(query, file: file, line: line) { count += 1 }
        return count
    }
}

extension PostgresDatabase {
    /// `body` on a connection, carried to its end even when the caller is cancelled: the end of a
    /// cancelled run, the mark of a fire, the change of a check are records that must land, and
    /// the incident desk and the outbox finish what they started while the engine shuts down.
    func record<T: Sendable>(patience: Duration?? = .none, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await Task { try await withConnection(patience: patience, body) }.value
    }

    /// `record` in a transaction.
    func recordInTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await Task { try await withTransaction(body) }.value
    }
}
