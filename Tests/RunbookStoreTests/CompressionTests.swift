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

