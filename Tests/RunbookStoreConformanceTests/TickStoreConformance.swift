import Foundation
import RunbookStore
import RunbookTestSupport
import Testing

/// What every TickStore must do: a batch lands whole with its bars and the latest price, a replay
/// of a batch already applied stores nothing, and reads see history in time order.
@Suite struct TickStoreConformance {
    /// 2026-06-01 10:00:00 UTC, a Monday, in milliseconds.
    static let ten: Int64 = 1_780_308_000_000

    /// A fresh store of its own (a scratch folder, or a database of the tests' PostgreSQL
    /// server), removed by `remove`; `open` again opens it as the next process would.
    final class Place: Sendable {
        let backend: TickBackend
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-tick-conformance-\(UUID().uuidString)")
        let database: String?

        init(backend: TickBackend) async throws {
            self.backend = backend
            database = backend == .postgresql ? try await PostgresServer.shared().makeDatabase() : nil
        }

        func open() async throws -> any TickStore {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return try await backend.open(in: folder, database: database)
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    func tick(_ symbol: String = "EURUSD", at offset: Int64, bid: Double, spread: Double = 0.0002, volume: Double = 1) -> Tick {
        Tick(symbol: symbol, timeMsc: Self.ten + offset, bid: bid, ask: bid + spread, volume: volume)
    }

    @Test(arguments: TickBackend.allCases)
    func aBatchLandsWithItsBarsAndTheLatestPrice(_ backend: TickBackend) async throws {
        let place = try await Place(backend: backend)
        defer { place.remove() }
        let store = try await place.open()
        #expect(try await store.lastAppliedBatch() == 0)
        #expect(try await store.storing(TickBatch(id: 1, ticks: [
            tick(at: 0, bid: 1.1000), tick(at: 20_000, bid: 1.1010), tick("XAUUSD", at: 30_000, bid: 2300.5, spread: 0.3), tick(at: 40_000, bid: 1.0990),
            tick(at: 61_000, bid: 1.1005),
        ])))
        #expect(try await store.lastAppliedBatch() == 1)
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.1000, 1.1010, 1.0990, 1.1005])
        #expect(try await store.current().map(\.symbol) == ["EURUSD", "XAUUSD"])
        #expect(try await store.current().first?.bid == 1.1005)

        let minutes = try await store.bars(symbol: "EURUSD", timeframe: .m1, from: nil, to: nil)
        #expect(minutes.map(\.openTime) == [Self.ten, Self.ten + 60_000])
        let first = try #require(minutes.first)
        #expect([first.open, first.high, first.low, first.close] == [1.1000, 1.1010, 1.0990, 1.0990])
        #expect(first.ticks == 3)
        let hour = try #require(try await store.bars(symbol: "EURUSD", timeframe: .h1, from: nil, to: nil).first)
        #expect(hour.openTime == Self.ten)
        #expect(hour.ticks == 4)
        #expect(hour.close == 1.1005)
        // Every timeframe gets its bar.
        for timeframe in Timeframe.allCases {
            #expect(try await store.bars(symbol: "XAUUSD", timeframe: timeframe, from: nil, to: nil).count == 1, "\(timeframe)")
        }
    }

    @Test(arguments: TickBackend.allCases)
    func aReplayedBatchStoresNothing(_ backend: TickBackend) async throws {
        let place = try await Place(backend: backend)
        defer { place.remove() }
        let store = try await place.open()
        #expect(try await store.storing(TickBatch(id: 5, ticks: [tick(at: 0, bid: 1.1)])))
        #expect(try await store.storing(TickBatch(id: 5, ticks: [tick(at: 0, bid: 1.1)])) == false, "the same batch again")
        #expect(try await store.storing(TickBatch(id: 3, ticks: [tick(at: 1_000, bid: 1.2)])) == false, "an older batch")
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).count == 1)
        #expect(try await store.bars(symbol: "EURUSD", timeframe: .m1, from: nil, to: nil).first?.ticks == 1)
        #expect(try await store.lastAppliedBatch() == 5)
        #expect(try await store.storing(TickBatch(id: 6, ticks: [tick(at: 2_000, bid: 1.3)])))
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.1, 1.3])
    }

    @Test(arguments: TickBackend.allCases)
    func aLateTickJoinsItsBarsWithoutMovingTheLatestPrice(_ backend: TickBackend) async throws {
        let place = try await Place(backend: backend)
        defer { place.remove() }
        let store = try await place.open()
        try await store.storing(TickBatch(id: 1, ticks: [tick(at: 30_000, bid: 1.2000)]))
        try await store.storing(TickBatch(id: 2, ticks: [tick(at: 10_000, bid: 1.1000)]))
        #expect(try await store.current().first?.timeMsc == Self.ten + 30_000)
        #expect(try await store.current().first?.bid == 1.2000)
        let bar = try #require(try await store.bars(symbol: "EURUSD", timeframe: .m1, from: nil, to: nil).first)
        #expect(bar.open == 1.1000, "the earliest tick opens the bar, whatever order it arrived in")
        #expect(bar.close == 1.2000)
        #expect(bar.ticks == 2)
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.timeMsc) == [Self.ten + 10_000, Self.ten + 30_000])
    }

    @Test(arguments: TickBackend.allCases)
    func readsTakeAStartAnEndThatIsLeftOutAndALimit(_ backend: TickBackend) async throws {
        let place = try await Place(backend: backend)
        defer { place.remove() }
        let store = try await place.open()
        try await store.storing(TickBatch(id: 1, ticks: (0..<10).map { tick(at: Int64($0) * 60_000, bid: 1 + Double($0) / 100) }))
        let some = try await store.ticks(symbol: "EURUSD", from: Self.ten + 120_000, to: Self.ten + 300_000, limit: nil)
        #expect(some.map(\.timeMsc) == [2, 3, 4].map { Self.ten + $0 * 60_000 })
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: 2).map(\.bid) == [1.00, 1.01])
        #expect(try await store.ticks(symbol: "GBPUSD", from: nil, to: nil, limit: nil).isEmpty)
        #expect(try await store.bars(symbol: "EURUSD", timeframe: .m1, from: Self.ten + 60_000, to: Self.ten + 180_000).map(\.openTime) == [Self.ten + 60_000, Self.ten + 120_000])
        #expect(try await store.bars(symbol: "EURUSD", timeframe: .m5, from: nil, to: nil).map(\.ticks) == [5, 5])
    }

    @Test(arguments: TickBackend.allCases)
    func whatWasStoredIsThereForTheNextProcess(_ backend: TickBackend) async throws {
        let place = try await Place(backend: backend)
        defer { place.remove() }
        let store = try await place.open()
        try await store.storing(TickBatch(id: 1, ticks: [tick(at: 0, bid: 1.1), tick(at: 1, bid: 1.2)]))
        let reopened = try await place.open()
        #expect(try await reopened.lastAppliedBatch() == 1)
        #expect(try await reopened.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.1, 1.2])
        #expect(try await reopened.storing(TickBatch(id: 1, ticks: [tick(at: 0, bid: 1.1)])) == false)
    }

    @Test(arguments: TickBackend.allCases)
    func ticksAtTheSameInstantKeepTheOrderTheyWereStoredIn(_ backend: TickBackend) async throws {
        let place = try await Place(backend: backend)
        defer { place.remove() }
        let store = try await place.open()
        try await store.storing(TickBatch(id: 1, ticks: [tick(at: 5_000, bid: 1.3), tick(at: 5_000, bid: 1.1)]))
        try await store.storing(TickBatch(id: 2, ticks: [tick(at: 5_000, bid: 1.2), tick(at: 4_000, bid: 1.0)]))
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.0, 1.3, 1.1, 1.2])
        #expect(try await store.current().first?.bid == 1.2, "the last stored of the latest instant is the current price")
    }

    /// Ten days of two symbols, a tick every 31 s, stored in batches of 5,000.
    static func tenDays() -> [Tick] {
        let start = ten - 10 * 3_600_000
        return (0..<(10 * 86_400 / 31)).flatMap { index -> [Tick] in
            let time = start + Int64(index) * 31_000
            let wave = Double((index * 7_919) % 200 - 100)
            return [
                Tick(symbol: "EURUSD", timeMsc: time, bid: 1.1 + wave / 10_000, ask: 1.1002 + wave / 10_000, volume: Double(index % 5)),
                Tick(symbol: "XAUUSD", timeMsc: time + 7, bid: 2300 + wave / 100, ask: 2300.3 + wave / 100, volume: 1),
            ]
        }
    }

    @Test(arguments: TickBackend.allCases)
    func packedAndUnpackedHistoryReadAlike(_ backend: TickBackend) async throws {
        let place = try await Place(backend: backend)
        defer { place.remove() }
        let store = try await place.open()
        let ticks = Self.tenDays()
        for (index, start) in stride(from: 0, to: ticks.count, by: 5000).enumerated() {
            try await store.storing(TickBatch(id: Int64(index + 1), ticks: Array(ticks[start..<min(start + 5000, ticks.count)])))
        }
        let before = try await store.ticks(symbol: "XAUUSD", from: nil, to: nil, limit: nil)
        #expect(before.count == ticks.count / 2)
        let barsBefore = try await store.bars(symbol: "XAUUSD", timeframe: .h1, from: nil, to: nil)
        let cutoff = Self.ten - 10 * 3_600_000 + 6 * 86_400_000 + 12 * 3_600_000

        let dry = try await store.compress(olderThan: cutoff, dryRun: true)
        #expect(dry.ticks == ticks.filter { $0.timeMsc < cutoff }.count)
        #expect(try await store.stats()["packed_blocks"] == 0)

        let report = try await store.compress(olderThan: cutoff, dryRun: false)
        #expect(report.ticks == dry.ticks)
        #expect(report.blocks == 14, "one block per symbol and day")
        #expect(report.packedBytes > 0 && report.ratio > 5)
        #expect(try await store.stats()["packed_ticks"] == report.ticks)
        #expect(try await store.stats()["history_rows"] == ticks.count - report.ticks)

        #expect(try await store.ticks(symbol: "XAUUSD", from: nil, to: nil, limit: nil) == before)
        let window = (cutoff - 2 * 3_600_000, cutoff + 2 * 3_600_000)
        #expect(try await store.ticks(symbol: "XAUUSD", from: window.0, to: window.1, limit: nil) == before.filter { $0.timeMsc >= window.0 && $0.timeMsc < window.1 })
        #expect(try await store.ticks(symbol: "XAUUSD", from: nil, to: nil, limit: 10) == Array(before.prefix(10)))
        #expect(try await store.bars(symbol: "XAUUSD", timeframe: .h1, from: nil, to: nil) == barsBefore)
        // Ticks stored after the compression still join their bars and history.
        try await store.storing(TickBatch(id: 100, ticks: [Tick(symbol: "XAUUSD", timeMsc: cutoff - 1, bid: 2400, ask: 2400.3, volume: 1)]))
        #expect(try await store.ticks(symbol: "XAUUSD", from: cutoff - 1, to: cutoff, limit: nil).map(\.bid) == [2400])

        let kept = cutoff - 3 * 86_400_000 - 6 * 3_600_000
        let retained = try await store.retain(olderThan: kept, dryRun: false)
        #expect(retained.ticks == ticks.filter { $0.timeMsc < kept }.count)
        #expect(try await store.ticks(symbol: "XAUUSD", from: nil, to: cutoff - 1, limit: nil) == before.filter { $0.timeMsc >= kept && $0.timeMsc < cutoff - 1 })
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).first?.timeMsc ?? 0 >= kept)
        #expect(try await store.bars(symbol: "XAUUSD", timeframe: .h1, from: nil, to: cutoff - 3_600_000) == barsBefore.filter { $0.openTime < cutoff - 3_600_000 })
    }
}
