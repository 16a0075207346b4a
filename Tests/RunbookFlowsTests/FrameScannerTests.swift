import Foundation
@testable import RunbookFlows
import Testing

@Suite struct FrameScannerTests {
    func read(_ text: String) -> (symbol: String, timeMsc: Int64, bid: Double, ask: Double, volume: Double)? {
        Array(text.utf8).withUnsafeBytes { FrameScanner.tick($0) }
    }

    func fields(_ text: String) -> (canonical: Bool, general: [Int?]) {
        Array(text.utf8).withUnsafeBytes { bytes in
            let general = FrameScanner.scanKeys(bytes)
            let canonical = FrameScanner.canonicalTick(bytes)
            if let canonical {
                // The fixed walk must find exactly what the general scan finds.
                #expect([canonical.type, canonical.symbol, canonical.bid, canonical.ask, canonical.timeMsc, canonical.volume]
                    == [general.type, general.symbol, general.bid, general.ask, general.timeMsc, general.volume])
            }
            return (canonical != nil, [general.type, general.symbol, general.bid, general.ask, general.timeMsc, general.volume])
        }
    }

    @Test func theWireFormatIsReadByTheFixedWalkAndAgreesWithTheScan() throws {
        let wire = #"{"type":"tick","symbol":"EURUSD","bid":1.08512,"ask":1.08527,"time_msc":1763700000123,"volume":0}"#
        #expect(fields(wire).canonical)
        #expect(fields(#"{"type":"tick","symbol":"XAUUSD","bid":2650.1,"ask":2650.45,"time_msc":1}"#).canonical)
        let tick = try #require(read(wire))
        #expect(tick.symbol == "EURUSD" && tick.bid == 1.08512 && tick.ask == 1.08527 && tick.timeMsc == 1_763_700_000_123 && tick.volume == 0)
    }

    @Test func anyOtherOrderOrSpacingIsReadByTheScan() throws {
        let variants = [
            #"{"symbol":"EURUSD","type":"tick","time_msc":5,"ask":1.2,"bid":1.1,"volume":3}"#,
            #"{ "type" : "tick", "symbol" : "EURUSD", "bid" : 1.1, "ask" : 1.2, "time_msc" : 5, "volume" : 3 }"#,
            #"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5,"volume":3}"# + "\n",
            #"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5,"volume":3,"flags":"\"bid\":9"}"#,
        ]
        for text in variants {
            #expect(!fields(text).canonical, "\(text)")
            let tick = try #require(read(text), "\(text)")
            #expect(tick.symbol == "EURUSD" && tick.bid == 1.1 && tick.ask == 1.2 && tick.timeMsc == 5 && tick.volume == 3, "\(text)")
        }
    }

    @Test func keysInsideStringValuesAreNotTakenForKeys() {
        // The comment's text holds a "bid" key; the real one is missing.
        let text = #"{"type":"tick","comment":"\"bid\":1.5,","symbol":"EURUSD","ask":1.2,"time_msc":5}"#
        #expect(fields(text).general[2] == nil)
        #expect(read(text) == nil)
        #expect(Array(text.utf8).withUnsafeBytes { FrameScanner.scan($0) } == .malformed(.missingField))
    }

    @Test func brokenTicksInTheWireOrderAreRefusedAsTheScanRefusesThem() {
        let cases: [(String, FrameScanner.Verdict)] = [
            (#"{"type":"tick","symbol":"EURUSD","bid":"high","ask":1.2,"time_msc":5}"#, .malformed(.wrongType)),
            (#"{"type":"tick","symbol":"","bid":1.1,"ask":1.2,"time_msc":5}"#, .malformed(.wrongType)),
            (#"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2}"#, .malformed(.missingField)),
            (#"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5"#, .malformed(.notJSON)),
        ]
        for (text, verdict) in cases {
            #expect(Array(text.utf8).withUnsafeBytes { FrameScanner.scan($0) } == verdict, "\(text)")
            #expect(read(text) == nil, "\(text)")
        }
    }
}
