import Foundation
import GRDB
import Logging
import RunbookFlows
import RunbookSimulator
import RunbookSQLite
import RunbookStore

/// The tick store against raw SQLite, on the simulator's data.
struct StoreBench {
    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        // Half a day of the simulator's ticks at 20 a second over its four symbols.
        let start = Int64(1_763_683_200_000)
        let simulator = EASimulator(EASimulator.Configuration(), logger: Logger(label: "bench"))
        let ticks = simulator.frames(count: 864_000, startMsc: start, gapMs: 50).compactMap { frame -> Tick? in
            var bytes = Array(frame.utf8)
            return bytes.withUnsafeMutableBytes { buffer in
                FrameScanner.tick(UnsafeRawBufferPointer(buffer)).map { Tick(symbol: $0.symbol, timeMsc: $0.timeMsc, bid: $0.bid, ask: $0.ask, volume: $0.volume) }
            }
        }

        let store = try SQLiteTickStore(path: folder.appendingPathComponent("ticks.db").path)
        let stored = try await seconds {
            for (index, batchStart) in stride(from: 0, to: ticks.count, by: 5000).enumerated() {
                try store.store(TickBatch(id: Int64(index + 1), ticks: Array(ticks[batchStart..<min(batchStart + 5000, ticks.count)])))
            }
        }
        let raw = try DatabaseQueue(path: folder.appendingPathComponent("raw.db").path)
        try await raw.write { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "CREATE TABLE history (symbol TEXT, time_msc INTEGER, bid REAL, ask REAL, volume REAL)")
        }
        let rawSeconds = try await seconds {
            try raw.inTransaction { db in
                let insert = try db.makeStatement(sql: "INSERT INTO history VALUES (?, ?, ?, ?, ?)")
                for tick in ticks { try insert.execute(arguments: [tick.symbol, tick.timeMsc, tick.bid, tick.ask, tick.volume]) }
                return .commit
            }
        }
        let storeRate = Double(ticks.count) / stored
        let rawRate = Double(ticks.count) / rawSeconds
        print("tick store, \(ticks.count) simulated ticks in batches of 5,000")
        print(String(format: "  history + current + 9 timeframes  %9.0f ticks/s   goal >= 300000", storeRate))
        print(String(format: "  baseline, raw SQLite inserts      %9.0f ticks/s   (one prepared statement, one transaction, bare table)", rawRate))
        print(String(format: "  ratio                             %9.2f x        goal >= 0.3", storeRate / rawRate))

        let dayStart = start - start % 86_400_000
        let hour = (start + 3_600_000, start + 7_200_000)
        let barsUnpacked = try await seconds { _ = try await store.bars(symbol: "EURUSD", timeframe: .m1, from: dayStart, to: dayStart + 86_400_000) }
        let ticksUnpacked = try await seconds { _ = try await store.ticks(symbol: "EURUSD", from: hour.0, to: hour.1, limit: nil) }
        let report = try await store.compress(olderThan: ticks.last!.timeMsc + 1, dryRun: false)
        let ticksPacked = try await seconds { _ = try await store.ticks(symbol: "EURUSD", from: hour.0, to: hour.1, limit: nil) }
        let hourCount = try await store.ticks(symbol: "EURUSD", from: hour.0, to: hour.1, limit: nil).count
        print("compression of the same ticks")
        print(String(format: "  packed                            %9.2f bytes/tick   goal <= 3   (%d blocks, ratio %.1fx against 40-byte rows)", report.bytesPerTick, report.blocks, report.ratio))
        print("reads (EURUSD)")
        print(String(format: "  one day of M1 bars                %9.2f ms", barsUnpacked * 1000))
        print(String(format: "  one hour of ticks (%d), rows      %9.2f ms", hourCount, ticksUnpacked * 1000))
        print(String(format: "  the same hour, packed             %9.2f ms", ticksPacked * 1000))

        try await PostgresStoreBench(ticks: ticks, sqlite: (storeRate, rawRate, report.bytesPerTick, barsUnpacked)).run()
    }
}
