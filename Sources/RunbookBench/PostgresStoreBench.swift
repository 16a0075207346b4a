import Foundation
import Logging
import NIOCore
import PostgresNIO
import RunbookPostgres
import RunbookSQLite
import RunbookStore
import RunbookTestSupport

/// The PostgreSQL tick store against a raw COPY of the same rows into a bare, unindexed table on
/// the same server, with the SQLite store's figures on the same ticks beside them. The server is
/// a throwaway PostgreSQL 15 cluster on this machine, with its own defaults (fsync, full page
/// writes, synchronous commit on), or the one `RUNBOOK_BENCH_POSTGRES_URL` names.
struct PostgresStoreBench {
    let ticks: [Tick]
    let sqlite: (ingest: Double, raw: Double, bytesPerTick: Double, dayOfBars: Double)

    func run() async throws {
        let server: PostgresServer?
        let url: String
        if let given = ProcessInfo.processInfo.environment["RUNBOOK_BENCH_POSTGRES_URL"] {
            server = nil
            url = given
        } else {
            server = try await PostgresServer.start(durable: true)
            url = try await server!.makeDatabase()
        }
        _ = server
        let store = try await PostgresTickStore.open(url: PostgresURL(url))
        defer { store.close() }
        // The same ticks moved to today, as live ticks arrive: today's partition takes them
        // without the index by symbol, which is made once the day is over.
        let day: Int64 = 86_400_000
        let shift = Int64(Date().timeIntervalSince1970 * 1000) / day * day - ticks[0].timeMsc / day * day
        let ticks = self.ticks.map { Tick(symbol: $0.symbol, timeMsc: $0.timeMsc + shift, bid: $0.bid, ask: $0.ask, volume: $0.volume) }
        let batches = stride(from: 0, to: ticks.count, by: 5000).map { Array(ticks[$0..<min($0 + 5000, ticks.count)]) }

        // Alternately, so that the server's caches and checkpoints weigh on both alike.
        var storeSeconds = 0.0, rawSeconds = 0.0
        let raw = PostgresClient(configuration: try Self.configuration(url), backgroundLogger: Logger(label: "bench"))
        let running = Task { await raw.run() }
        defer { running.cancel() }
        try await raw.query("CREATE TABLE raw_history (symbol text, time_msc bigint, bid double precision, ask double precision, volume double precision)")
        for (index, batch) in batches.enumerated() {
            storeSeconds += try await seconds { try await store.apply(TickBatch(id: Int64(index + 1), ticks: batch)) }
            rawSeconds += try await seconds { try await Self.copy(batch, into: raw) }
        }
        let storeRate = Double(ticks.count) / storeSeconds
        let rawRate = Double(ticks.count) / rawSeconds

        let start = ticks.first!.timeMsc
        let dayStart = start - start % 86_400_000
        var barTimes: [Double] = []
        for _ in 0..<21 {
            barTimes.append(try await seconds { _ = try await store.bars(symbol: "EURUSD", timeframe: .m1, from: dayStart, to: dayStart + 86_400_000) })
        }
        let hourToday = try await seconds { _ = try await store.ticks(symbol: "EURUSD", from: dayStart + 3_600_000, to: dayStart + 7_200_000, limit: nil) }
        // Reads of a day that is over, with its index made, as the day after.
        try await store.indexClosedDays(now: Date(timeIntervalSince1970: Double(dayStart + 2 * day) / 1000))
        var dayOfTicks: [Double] = []
        for _ in 0..<5 {
            dayOfTicks.append(try await seconds { _ = try await store.ticks(symbol: "EURUSD", from: dayStart + 3_600_000, to: dayStart + 7_200_000, limit: nil) })
        }
        let report = try await store.compress(olderThan: ticks.last!.timeMsc + 1, dryRun: false)

        print("tick store on PostgreSQL 15 (same machine, fsync on), \(ticks.count) simulated ticks in batches of 5,000")
        print(String(format: "  history + current + 9 timeframes  %9.0f ticks/s   goal >= 250000   (SQLite store: %.0f)", storeRate, sqlite.ingest))
        print(String(format: "  baseline, raw COPY, bare table    %9.0f ticks/s   (same rows, same batches, no index)", rawRate))
        print(String(format: "  ratio                             %9.2f x        goal >= 0.6    (SQLite store to raw inserts: %.2f)", storeRate / rawRate, sqlite.ingest / sqlite.raw))
        print(String(format: "  packed                            %9.2f bytes/tick   goal <= 2   (%d blocks, %d partitions dropped; SQLite: %.2f)", report.bytesPerTick, report.blocks, report.partitionsDropped, sqlite.bytesPerTick))
        print(String(format: "  one day of M1 bars (median of 21) %9.2f ms      goal <= 5      (SQLite: %.2f ms)", median(barTimes) * 1000, sqlite.dayOfBars * 1000))
        print(String(format: "  one hour of EURUSD ticks, today   %9.2f ms      (today's partition, no index by symbol yet)", hourToday * 1000))
        print(String(format: "  the same hour, the day after      %9.2f ms      (median of 5, indexed)", median(dayOfTicks) * 1000))
    }

    static func configuration(_ text: String) throws -> PostgresClient.Configuration {
        let url = try PostgresURL(text)
        return PostgresClient.Configuration(host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: .disable)
    }

    /// The rows as the store's COPY sends them (with the symbol's name in place of its id), in
    /// one transaction per batch.
    static func copy(_ batch: [Tick], into client: PostgresClient) async throws {
        var buffer = ByteBuffer()
        for tick in batch { buffer.writeString("\(tick.symbol)\t\(tick.timeMsc)\t\(tick.bid)\t\(tick.ask)\t\(tick.volume)\n") }
        try await client.withTransaction(logger: Logger(label: "bench")) { connection in
            try await connection.copyFrom(table: "raw_history", columns: ["symbol", "time_msc", "bid", "ask", "volume"], logger: Logger(label: "bench")) { writer in
                try await writer.write(buffer)
            }
        }
    }
}
