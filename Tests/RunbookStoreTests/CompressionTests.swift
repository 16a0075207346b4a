import Foundation
import RunbookSQLite
import RunbookStore
import Testing

@Suite struct TickCodecTests {
    @Test func roundTripIsBitExactForDecimalAndArbitraryPrices() throws {
        let decimal = simulatedTicks(from: instant("2026-03-02 00:00:00"), days: 3, everySeconds: 7).filter { $0.symbol == "EURUSD" }
        var arbitrary = decimal
        var generator = SeededRandom(seed: 7)
        for index in arbitrary.indices {
            arbitrary[index].bid += Double(generator.next() % 1000) * 1e-13
            arbitrary[index].volume = Double(generator.next() % 100) / 3
        }
        for ticks in [decimal, arbitrary, [], Array(decimal.prefix(1))] {
            let decoded = try TickCodec.decode(try TickCodec.encode(ticks), symbol: "EURUSD")
            #expect(decoded.count == ticks.count)
            #expect(zip(decoded, ticks).allSatisfy {
                $0.timeMsc == $1.timeMsc && $0.bid.bitPattern == $1.bid.bitPattern && $0.ask.bitPattern == $1.ask.bitPattern && $0.volume.bitPattern == $1.volume.bitPattern
            })
        }
    }
}

@Suite struct CompressionPolicyTests {
    @Test func packedAndUnpackedHistoryReadAlike() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteTickStore(path: folder.appendingPathComponent("ticks.db").path)
        let ticks = simulatedTicks(from: instant("2026-03-02 00:00:00"), days: 10, everySeconds: 31)
        for (index, start) in stride(from: 0, to: ticks.count, by: 5000).enumerated() {
            try store.store(TickBatch(id: Int64(index + 1), ticks: Array(ticks[start..<min(start + 5000, ticks.count)])))
        }
        let before = try store.ticks(symbol: "XAUUSD", from: nil, to: nil, limit: nil)
        let barsBefore = try store.bars(symbol: "XAUUSD", timeframe: .h1, from: nil, to: nil)
        let cutoff = instant("2026-03-08 12:00:00")

        let dry = try store.compress(olderThan: cutoff, dryRun: true)
        #expect(dry.ticks == ticks.filter { $0.timeMsc < cutoff }.count)
        #expect(try store.stats()["packed_blocks"] == 0)

        let report = try store.compress(olderThan: cutoff)
        #expect(report.ticks == dry.ticks)
        #expect(report.blocks == dry.blocks)
        #expect(report.packedBytes > 0 && report.ratio > 5)
        #expect(try store.stats()["packed_ticks"] == report.ticks)
        #expect(try store.stats()["history_rows"] == ticks.count - report.ticks)

        let after = try store.ticks(symbol: "XAUUSD", from: nil, to: nil, limit: nil)
        #expect(after == before)
        let window = (instant("2026-03-08 10:00:00"), instant("2026-03-08 14:00:00"))
        #expect(try store.ticks(symbol: "XAUUSD", from: window.0, to: window.1, limit: nil) == before.filter { $0.timeMsc >= window.0 && $0.timeMsc < window.1 })
        #expect(try store.ticks(symbol: "XAUUSD", from: nil, to: nil, limit: 10) == Array(before.prefix(10)))
        #expect(try store.bars(symbol: "XAUUSD", timeframe: .h1, from: nil, to: nil) == barsBefore)

        let retained = try store.retain(olderThan: instant("2026-03-05 06:00:00"))
        #expect(retained.ticks == ticks.filter { $0.timeMsc < instant("2026-03-05 06:00:00") }.count)
        #expect(try store.ticks(symbol: "XAUUSD", from: nil, to: nil, limit: nil) == before.filter { $0.timeMsc >= instant("2026-03-05 06:00:00") })
        #expect(try store.bars(symbol: "XAUUSD", timeframe: .h1, from: nil, to: nil) == barsBefore)
    }
}
