import Foundation
import RunbookStore
import Testing

/// What every TickStore must do: a batch lands whole with its bars and the latest price, a replay
/// of a batch already applied stores nothing, and reads see history in time order.
@Suite struct TickStoreConformance {
    /// 2026-06-01 10:00:00 UTC, a Monday, in milliseconds.
    static let ten: Int64 = 1_780_308_000_000

    /// A fresh store in a scratch folder of its own, removed by `remove`.
    struct Place {
        let backend: TickBackend
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-tick-conformance-\(UUID().uuidString)")

        func open() throws -> any TickStore {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return try backend.open(in: folder)
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    func tick(_ symbol: String = "EURUSD", at offset: Int64, bid: Double, spread: Double = 0.0002, volume: Double = 1) -> Tick {
        Tick(symbol: symbol, timeMsc: Self.ten + offset, bid: bid, ask: bid + spread, volume: volume)
    }

    @Test(arguments: TickBackend.allCases)
    func aBatchLandsWithItsBarsAndTheLatestPrice(_ backend: TickBackend) throws {
        let place = Place(backend: backend)
        defer { place.remove() }
        let store = try place.open()
        #expect(try store.lastAppliedBatch() == 0)
        #expect(try store.store(TickBatch(id: 1, ticks: [
            tick(at: 0, bid: 1.1000), tick(at: 20_000, bid: 1.1010), tick("XAUUSD", at: 30_000, bid: 2300.5, spread: 0.3), tick(at: 40_000, bid: 1.0990),
            tick(at: 61_000, bid: 1.1005),
        ])))
        #expect(try store.lastAppliedBatch() == 1)
        #expect(try store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.1000, 1.1010, 1.0990, 1.1005])
        #expect(try store.current().map(\.symbol) == ["EURUSD", "XAUUSD"])
        #expect(try store.current().first?.bid == 1.1005)

        let minutes = try store.bars(symbol: "EURUSD", timeframe: .m1, from: nil, to: nil)
        #expect(minutes.map(\.openTime) == [Self.ten, Self.ten + 60_000])
        let first = try #require(minutes.first)
        #expect([first.open, first.high, first.low, first.close] == [1.1000, 1.1010, 1.0990, 1.0990])
        #expect(first.ticks == 3)
        let hour = try #require(try store.bars(symbol: "EURUSD", timeframe: .h1, from: nil, to: nil).first)
        #expect(hour.openTime == Self.ten)
        #expect(hour.ticks == 4)
        #expect(hour.close == 1.1005)
        // Every timeframe gets its bar.
        for timeframe in Timeframe.allCases {
            #expect(try store.bars(symbol: "XAUUSD", timeframe: timeframe, from: nil, to: nil).count == 1, "\(timeframe)")
        }
    }

    @Test(arguments: TickBackend.allCases)
    func aReplayedBatchStoresNothing(_ backend: TickBackend) throws {
        let place = Place(backend: backend)
        defer { place.remove() }
        let store = try place.open()
        #expect(try store.store(TickBatch(id: 5, ticks: [tick(at: 0, bid: 1.1)])))
        #expect(try store.store(TickBatch(id: 5, ticks: [tick(at: 0, bid: 1.1)])) == false, "the same batch again")
        #expect(try store.store(TickBatch(id: 3, ticks: [tick(at: 1_000, bid: 1.2)])) == false, "an older batch")
        #expect(try store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).count == 1)
        #expect(try store.bars(symbol: "EURUSD", timeframe: .m1, from: nil, to: nil).first?.ticks == 1)
        #expect(try store.lastAppliedBatch() == 5)
        #expect(try store.store(TickBatch(id: 6, ticks: [tick(at: 2_000, bid: 1.3)])))
        #expect(try store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.1, 1.3])
    }

    @Test(arguments: TickBackend.allCases)
    func aLateTickJoinsItsBarsWithoutMovingTheLatestPrice(_ backend: TickBackend) throws {
        let place = Place(backend: backend)
        defer { place.remove() }
        let store = try place.open()
        try store.store(TickBatch(id: 1, ticks: [tick(at: 30_000, bid: 1.2000)]))
        try store.store(TickBatch(id: 2, ticks: [tick(at: 10_000, bid: 1.1000)]))
        #expect(try store.current().first?.timeMsc == Self.ten + 30_000)
        #expect(try store.current().first?.bid == 1.2000)
        let bar = try #require(try store.bars(symbol: "EURUSD", timeframe: .m1, from: nil, to: nil).first)
        #expect(bar.open == 1.1000, "the earliest tick opens the bar, whatever order it arrived in")
        #expect(bar.close == 1.2000)
        #expect(bar.ticks == 2)
        #expect(try store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.timeMsc) == [Self.ten + 10_000, Self.ten + 30_000])
    }

    @Test(arguments: TickBackend.allCases)
    func readsTakeAStartAnEndThatIsLeftOutAndALimit(_ backend: TickBackend) throws {
        let place = Place(backend: backend)
        defer { place.remove() }
        let store = try place.open()
        try store.store(TickBatch(id: 1, ticks: (0..<10).map { tick(at: Int64($0) * 60_000, bid: 1 + Double($0) / 100) }))
        let some = try store.ticks(symbol: "EURUSD", from: Self.ten + 120_000, to: Self.ten + 300_000, limit: nil)
        #expect(some.map(\.timeMsc) == [2, 3, 4].map { Self.ten + $0 * 60_000 })
        #expect(try store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: 2).map(\.bid) == [1.00, 1.01])
        #expect(try store.ticks(symbol: "GBPUSD", from: nil, to: nil, limit: nil).isEmpty)
        #expect(try store.bars(symbol: "EURUSD", timeframe: .m1, from: Self.ten + 60_000, to: Self.ten + 180_000).map(\.openTime) == [Self.ten + 60_000, Self.ten + 120_000])
        #expect(try store.bars(symbol: "EURUSD", timeframe: .m5, from: nil, to: nil).map(\.ticks) == [5, 5])
    }

    @Test(arguments: TickBackend.allCases)
    func whatWasStoredIsThereForTheNextProcess(_ backend: TickBackend) throws {
        let place = Place(backend: backend)
        defer { place.remove() }
        let store = try place.open()
        try store.store(TickBatch(id: 1, ticks: [tick(at: 0, bid: 1.1), tick(at: 1, bid: 1.2)]))
        let reopened = try place.open()
        #expect(try reopened.lastAppliedBatch() == 1)
        #expect(try reopened.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.1, 1.2])
        #expect(try reopened.store(TickBatch(id: 1, ticks: [tick(at: 0, bid: 1.1)])) == false)
    }
}
