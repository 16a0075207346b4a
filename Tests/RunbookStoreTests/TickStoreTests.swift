import Foundation
import RunbookTestSupport
import GRDB
import Logging
import RunbookSQLite
import RunbookStore
import Testing

/// Ticks over days, with weekends without ticks and prices walking.
func simulatedTicks(from start: Int64, days: Int, everySeconds: Int64 = 97, symbols: [String] = ["EURUSD", "XAUUSD"]) -> [Tick] {
    var generator = SeededRandom(seed: 42)
    var prices = ["EURUSD": 1.0850, "XAUUSD": 2400.0]
    var ticks: [Tick] = []
    var time = start
    let end = start + Int64(days) * 86_400_000
    while time < end {
        let weekday = Calendar(identifier: .gregorian).component(.weekday, from: Date(timeIntervalSince1970: Double(time) / 1000))
        if weekday != 7 {
            for symbol in symbols {
                let step = symbol == "XAUUSD" ? 0.1 : 0.00001
                let bid = ((prices[symbol]! + Double(Int(generator.next() % 21) - 10) * step) * 1e5).rounded() / 1e5
                prices[symbol] = bid
                ticks.append(Tick(symbol: symbol, timeMsc: time + Int64(generator.next() % 900), bid: bid, ask: bid + step * 15, volume: 0))
            }
        }
        time += everySeconds * 1000
    }
    return ticks
}

struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
    }
}

/// The bars a plain group-by of the same ticks gives.
func referenceBars(_ ticks: [Tick], _ timeframe: Timeframe, _ alignment: BarAlignment, symbol: String) -> [Bar] {
    let sorted = ticks.filter { $0.symbol == symbol }.enumerated().sorted { ($0.element.timeMsc, $0.offset) < ($1.element.timeMsc, $1.offset) }.map(\.element)
    var bars: [Int64: Bar] = [:]
    for tick in sorted {
        let open = alignment.open(of: timeframe, at: tick.timeMsc)
        if bars[open] == nil { bars[open] = Bar(symbol: symbol, timeframe: timeframe, openTime: open, tick: tick) } else { bars[open]!.add(tick) }
    }
    return bars.values.sorted { $0.openTime < $1.openTime }
}

func scratch() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

@Suite struct TickStoreTests {
    @Test(arguments: ["UTC", "America/New_York"])
    func barsFromBatchesInAnyOrderMatchAPlainReference(zone: String) async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let alignment = BarAlignment(timeZone: TimeZone(identifier: zone)!)
        let store = try SQLiteTickStore(path: folder.appendingPathComponent("ticks.db").path, alignment: alignment)
        // Late February to early April: a month boundary, weekends, and New York's spring DST change.
        let ticks = simulatedTicks(from: instant("2026-02-25 00:00:00"), days: 40, everySeconds: 373)
        var batches = stride(from: 0, to: ticks.count, by: 700).map { Array(ticks[$0..<min($0 + 700, ticks.count)]) }
        batches.swapAt(1, 5)
        batches.swapAt(10, 3)
        for (index, batch) in batches.enumerated() { try await store.storing(TickBatch(id: Int64(index + 1), ticks: batch)) }

        for symbol in ["EURUSD", "XAUUSD"] {
            for timeframe in Timeframe.allCases {
                #expect(try await store.bars(symbol: symbol, timeframe: timeframe, from: nil, to: nil) == referenceBars(ticks, timeframe, alignment, symbol: symbol), "\(symbol) \(timeframe)")
            }
            let latest = ticks.filter { $0.symbol == symbol }.max { $0.timeMsc < $1.timeMsc }
            #expect(try await store.current().first { $0.symbol == symbol } == latest)
        }
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).count == ticks.filter { $0.symbol == "EURUSD" }.count)
    }

    @Test func aBatchIsAppliedOnceEvenWhenReplayed() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteTickStore(path: folder.appendingPathComponent("ticks.db").path)
        let batch = TickBatch(id: 1, ticks: simulatedTicks(from: instant("2026-03-02 00:00:00"), days: 1))
        #expect(try await store.storing(batch))
        #expect(try await store.storing(batch) == false)
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).count == batch.ticks.count / 2)
        #expect(try await store.bars(symbol: "EURUSD", timeframe: .d1, from: nil, to: nil).first?.ticks == batch.ticks.count / 2)
    }
}

@Suite(.serialized) struct TickIngestTests {
    func ingest(_ path: String, spool: String, busy: TimeInterval = 0.1) throws -> TickIngest {
        var settings = TickIngest.Settings()
        settings.interval = .milliseconds(10)
        settings.retryDelays = [.milliseconds(10), .milliseconds(20)]
        settings.replayEvery = .milliseconds(50)
        return TickIngest(
            store: try SQLiteTickStore(path: path, busyTimeout: busy), spool: try TickSpool(path: spool), settings: settings,
            logger: Logger(label: "test"), parse: { bytes in
                let fields = String(decoding: bytes, as: UTF8.self).split(separator: ",")
                return Tick(symbol: String(fields[0]), timeMsc: Int64(fields[1])!, bid: Double(fields[2])!, ask: Double(fields[2])! + 0.0001)
            }
        )
    }

    func feed(_ ingest: TickIngest, _ range: Range<Int>) {
        for n in range {
            let frame = Array("EURUSD,\(1_763_700_000_000 + n),1.\(10_000 + n % 1000)".utf8)
            frame.withUnsafeBytes { ingest.accept($0) }
        }
    }

    @Test func everyTickIsStoredExactlyOnceThroughAnOutageAndARestart() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("ticks.db").path
        let spool = folder.appendingPathComponent("ticks.spool").path

        let first = try ingest(path, spool: spool)
        let running = Task { await first.run() }
        feed(first, 0..<1000)
        #expect(await eventually { first.counters.stored == 1000 })

        // The store goes down: another connection holds the database's write lock.
        let blocker = try DatabaseQueue(path: path)
        let locked = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        Thread {
            try? blocker.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN EXCLUSIVE")
                locked.signal()
                release.wait()
                try db.execute(sql: "COMMIT")
            }
        }.start()
        locked.wait()
        feed(first, 1000..<2000)
        #expect(await eventually { first.counters.spooled == 1000 })
        #expect(first.counters.dropped == 0)

        // The engine restarts while the store is still down: the spool is kept, new ticks join it.
        running.cancel()
        await running.value
        let second = try ingest(path, spool: spool)
        let rerunning = Task { await second.run() }
        feed(second, 2000..<2500)
        #expect(await eventually { second.counters.spooled == 500 })

        release.signal()
        #expect(await eventually { second.counters.replayed == 1500 })
        feed(second, 2500..<2600)
        #expect(await eventually { second.counters.stored == 1600 })
        rerunning.cancel()
        await rerunning.value

        let store = try SQLiteTickStore(path: path)
        let stored = try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil)
        #expect(stored.count == 2600)
        #expect(Set(stored.map(\.timeMsc)).count == 2600)
        #expect(try await store.bars(symbol: "EURUSD", timeframe: .mn, from: nil, to: nil).first?.ticks == 2600)
        #expect(try TickSpool(path: spool).isEmpty)
    }
}
