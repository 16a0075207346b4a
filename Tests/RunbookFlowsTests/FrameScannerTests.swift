import Foundation
@testable import RunbookFlows
import Testing

@Suite struct FrameScannerTests {
    func read(_ text: String) -> FrameScanner.Values? {
        Array(text.utf8).withUnsafeBytes { FrameScanner.tick($0) }
    }

    func verdict(_ text: String) -> FrameScanner.Verdict {
        Array(text.utf8).withUnsafeBytes { FrameScanner.scan($0) }
    }

    func isCanonical(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes { FrameScanner.canonicalTick($0) != nil }
    }

    @Test func theWireFormatIsReadByTheFixedWalkAndAgreesWithTheDecoder() throws {
        let wire = #"{"type":"tick","symbol":"EURUSD","bid":1.08512,"ask":1.08527,"time_msc":1763700000123,"volume":0}"#
        #expect(isCanonical(wire))
        #expect(isCanonical(#"{"type":"tick","symbol":"XAUUSD","bid":2650.1,"ask":2650.45,"time_msc":1}"#))
        let tick = try #require(read(wire))
        #expect(tick.symbol == "EURUSD" && tick.bid == 1.08512 && tick.ask == 1.08527 && tick.timeMsc == 1_763_700_000_123 && tick.volume == 0)
        // The decoder reads the same frame to the same values.
        guard case .tick(let symbol, let bid, let ask, let time, let volume) = try FlowMessage.parse(wire) else { Issue.record("not a tick"); return }
        #expect(symbol == tick.symbol && bid == tick.bid && ask == tick.ask && time == tick.timeMsc && volume == tick.volume)
    }

    @Test func anyOtherOrderOrSpacingIsReadByTheDecoder() throws {
        let variants = [
            #"{"symbol":"EURUSD","type":"tick","time_msc":5,"ask":1.2,"bid":1.1,"volume":3}"#,
            #"{ "type" : "tick", "symbol" : "EURUSD", "bid" : 1.1, "ask" : 1.2, "time_msc" : 5, "volume" : 3 }"#,
            #"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5,"volume":3}"# + "\n",
            #"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5,"volume":3,"flags":"\"bid\":9"}"#,
        ]
        for text in variants {
            #expect(!isCanonical(text), "\(text)")
            let tick = try #require(read(text), "\(text)")
            #expect(tick.symbol == "EURUSD" && tick.bid == 1.1 && tick.ask == 1.2 && tick.timeMsc == 5 && tick.volume == 3, "\(text)")
            #expect(verdict(text) == .decodedTick(symbol: "EURUSD"), "\(text)")
        }
    }

    @Test func keysInsideStringValuesAreNotTakenForKeys() {
        // The comment's text holds a "bid" key; the real one is missing.
        let text = #"{"type":"tick","comment":"\"bid\":1.5,","symbol":"EURUSD","ask":1.2,"time_msc":5}"#
        #expect(read(text) == nil)
        #expect(verdict(text) == .malformed(.missingField))
    }

    @Test func brokenTicksInTheWireOrderAreRefusedAsTheDecoderRefusesThem() {
        let cases: [(String, FrameScanner.Verdict)] = [
            (#"{"type":"tick","symbol":"EURUSD","bid":"high","ask":1.2,"time_msc":5}"#, .malformed(.wrongType)),
            (#"{"type":"tick","symbol":"","bid":1.1,"ask":1.2,"time_msc":5}"#, .malformed(.wrongType)),
            (#"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2}"#, .malformed(.missingField)),
            (#"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5"#, .malformed(.notJSON)),
        ]
        for (text, expected) in cases {
            #expect(verdict(text) == expected, "\(text)")
            #expect(read(text) == nil, "\(text)")
        }
    }

    /// Numbers a peer can send that no Int64 or price holds: each is refused, never trapped on.
    @Test func outOfRangeNumbersAreMalformedNotFatal() {
        let times = ["1e19", "1e300", "-1e19", "9223372036854775000", "-9223372036854775000", "9223372036854775807", "-1", "4102444800001", "1.5"]
        for time in times {
            for text in [
                #"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.1002,"time_msc":\#(time),"volume":0}"#,
                #"{"symbol":"EURUSD","type":"tick","bid":1.1,"ask":1.1002,"time_msc":\#(time)}"#,
            ] {
                #expect(read(text) == nil, "\(text)")
                #expect(verdict(text) == .malformed(.outOfRange), "\(text)")
            }
        }
        for price in ["1e308", "-1e308", "1e10", "1000000001"] {
            let text = #"{"type":"tick","symbol":"EURUSD","bid":\#(price),"ask":1.1002,"time_msc":5,"volume":0}"#
            #expect(verdict(text) == .malformed(.outOfRange), "\(text)")
            #expect(read(text) == nil, "\(text)")
        }
        // Beyond a Double altogether: not a finite number, refused as such.
        #expect(read(#"{"type":"tick","symbol":"EURUSD","bid":1e999,"ask":1.1002,"time_msc":5}"#) == nil)
        #expect(verdict(#"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5,"volume":-1}"#) == .malformed(.outOfRange))
        // A volume in the wire order that no double holds is refused, not read as zero (found by fuzzing).
        let hugeVolume = "2" + String(repeating: "7", count: 40) + "e77716"
        #expect(read(#"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5,"volume":\#(hugeVolume)}"#) == nil)
        #expect(read(#"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":5,"volume":1e999}"#) == nil)
        // The edges are in.
        #expect(read(#"{"type":"tick","symbol":"EURUSD","bid":-1e9,"ask":1e9,"time_msc":4102444800000,"volume":1e15}"#) != nil)
        #expect(read(#"{"type":"tick","symbol":"EURUSD","bid":1.1,"ask":1.2,"time_msc":0}"#) != nil)
    }

    /// A price of many digits reads as the same double whatever the key order or spacing, so the
    /// same tick is stored alike from any sender (found by fuzzing: Foundation's own double of a
    /// long decimal was a few ulps off).
    @Test func longDecimalsReadAlikeInAnyOrder() throws {
        let bid = "1.77777700012609526036616314912"
        let wire = read(#"{"type":"tick","symbol":"EURUSD","bid":\#(bid),"ask":1.08507,"time_msc":130}"#)
        let spaced = read(#"{"type":"tick","symbol":"EURUSD","bid":\#(bid),"ask":1.08507,"#  + "\n\n" + #""time_msc":130}"#)
        #expect(wire?.bid == Double(bid))
        #expect(spaced?.bid == Double(bid))
    }

    /// A frame that is not valid JSON is never relayed: the wire order does not excuse it.
    @Test func onlyValidJSONIsATick() {
        let broken = [
            #"{"type":"tick","symbol":"GARB","bid":1,"ask":2,"time_msc":3,,,,}"#,
            #"{"type":"tick","symbol":"GARB","bid":1,"ask":2,"time_msc":3,"volume":}"#,
            #"{"type":"tick","symbol":"GARB","bid":01,"ask":2,"time_msc":3}"#,
            #"{"type":"tick","symbol":"GARB","bid":+1,"ask":2,"time_msc":3}"#,
            #"{"type":"tick","symbol":"GARB","bid":.5,"ask":2,"time_msc":3}"#,
            #"{"type":"tick","symbol":"GARB","bid":1.,"ask":2,"time_msc":3}"#,
            #"{"type":"tick","symbol":"GARB","bid":1e,"ask":2,"time_msc":3}"#,
            #"{"type":"tick","symbol":"GARB","bid":1-2,"ask":2,"time_msc":3}"#,
            #"{"type":"tick","symbol":"GA"# + "\u{1}" + #"RB","bid":1,"ask":2,"time_msc":3}"#,
            #"{"type":"tick","symbol":"GARB","bid":1,"ask":2,"time_msc":3}}"#,
            #"{"type":"tick","symbol":"GARB","bid":1,"ask":2,"time_msc":3,"x":[1,}"#,
        ]
        for text in broken {
            #expect(read(text) == nil, "\(text)")
            guard case .malformed = verdict(text) else { Issue.record("relayed: \(text)"); continue }
        }
        // Bytes that are not UTF-8 in a symbol.
        var bytes = Array(#"{"type":"tick","symbol":"EUR"#.utf8) + [0xFF, 0xFE] + Array(#"","bid":1,"ask":2,"time_msc":3}"#.utf8)
        bytes.withUnsafeBytes { buffer in
            #expect(FrameScanner.tick(buffer) == nil)
            #expect(FrameScanner.scan(buffer) == .malformed(.notJSON))
        }
        bytes = []
    }

    @Test func symbolsHaveTheirLimits() {
        let long = String(repeating: "S", count: 65)
        #expect(verdict(#"{"type":"tick","symbol":"\#(long)","bid":1,"ask":2,"time_msc":3}"#) == .malformed(.outOfRange))
        #expect(verdict(#"{"type":"tick","symbol":"\#(String(repeating: "S", count: 1000))","bid":1,"ask":2,"time_msc":3}"#) == .malformed(.outOfRange))
        #expect(read(#"{"type":"tick","symbol":"\#(long.dropLast())","bid":1,"ask":2,"time_msc":3}"#)?.symbol.count == 64)
        // Escaped control characters are refused; other scripts are read by the decoder.
        #expect(verdict(#"{"type":"tick","symbol":"EUR\u0000USD","bid":1,"ask":2,"time_msc":3}"#) == .malformed(.outOfRange))
        #expect(read(#"{"type":"tick","symbol":"ÉURUSD","bid":1,"ask":2,"time_msc":3}"#)?.symbol == "ÉURUSD")
        #expect(read(#"{"type":"tick","symbol":"EUR\/USD","bid":1,"ask":2,"time_msc":3}"#)?.symbol == "EUR/USD")
    }
}
