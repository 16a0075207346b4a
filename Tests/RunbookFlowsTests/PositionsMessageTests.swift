import Foundation
import RunbookCore
import RunbookFlows
import Testing

/// An EA's positions report as the confirmation listener reads it: every bad report is named
/// and dropped, never half read.
@Suite struct PositionsMessageTests {
    func reason(_ text: String) -> MalformedReason? {
        do {
            _ = try FlowMessage.parse(text)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func aReportListsTicketsSymbolsAndLots() throws {
        let message = try FlowMessage.parse(#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":5001,"symbol":"EURUSD","lots":0.1},{"ticket":5002,"symbol":"XAUUSD","lots":1.5}],"time_msc":1700000000000}"#)
        #expect(message == .positions(FlowMessage.Positions(
            target: "ea-01", positions: [Position(ticket: 5001, symbol: "EURUSD", lots: 0.1), Position(ticket: 5002, symbol: "XAUUSD", lots: 1.5)], timeMsc: 1_700_000_000_000
        )))
        #expect(try FlowMessage.parse(#"{"type":"positions","target_uuid":"ea-01","positions":[]}"#) == .positions(FlowMessage.Positions(target: "ea-01", positions: [])), "flat")
    }

    @Test func badReportsAreNamedAndDropped() {
        let cases: [(String, MalformedReason)] = [
            (#"{"type":"positions","target_uuid":"ea-01"}"#, .missingField),
            (#"{"type":"positions","target_uuid":"ea-01","positions":{"ticket":1}}"#, .wrongType),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[5001]}"#, .wrongType),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"symbol":"EURUSD","lots":0.1}]}"#, .missingField),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1.5,"symbol":"EURUSD","lots":0.1}]}"#, .wrongType),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1e30,"symbol":"EURUSD","lots":0.1}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EURUSD","lots":0}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EURUSD","lots":-2}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EURUSD","lots":1e9}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EURUSD","lots":"0.1"}]}"#, .wrongType),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EUR\u0000USD","lots":0.1}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EURUSD","lots":0.1},{"ticket":1,"symbol":"GBPUSD","lots":0.2}]}"#, .outOfRange),
            (#"{"type":"positions","positions":[]}"#, .missingField),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":0,"symbol":"EURUSD","lots":0.1}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":-5,"symbol":"EURUSD","lots":0.1}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":9007199254740993,"symbol":"EURUSD","lots":0.1}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EURUSD","lots":1e-300}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EUR\u202EUSD","lots":0.1}]}"#, .outOfRange),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[{"ticket":1,"symbol":"EURUSD","lots":NaN}]}"#, .notJSON),
            (#"{"type":"positions","target_uuid":"ea-01","positions":[[{"ticket":1,"symbol":"EURUSD","lots":0.1}]]}"#, .wrongType),
        ]
        for (text, expected) in cases {
            #expect(reason(text) == expected, "\(text)")
        }
        let many = (1...1001).map { #"{"ticket":\#($0),"symbol":"EURUSD","lots":0.01}"# }.joined(separator: ",")
        #expect(reason(#"{"type":"positions","target_uuid":"ea-01","positions":[\#(many)]}"#) == .outOfRange, "more than 1,000 positions")
    }
}
