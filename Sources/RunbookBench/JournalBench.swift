import Foundation
import Logging
import RunbookSQLite
import RunbookStore

/// The tick journal's cost on the bridge's hot path: `TickIngest.accept` of the wire format's
/// frames with the journal (each frame written to a memory-mapped segment before it is relayed)
/// and without it, alternating in one process.
struct JournalBench {
    let folder: URL

    func run() throws {
        let frame = Array(FlowBench.tick(sent: 1_763_700_000_123).utf8)
        let count = 300_000
        var journaled: [Double] = []
        var bare: [Double] = []
        for round in 0..<5 {
            journaled.append(try rate(frame, count: count, journal: true, round: round))
            bare.append(try rate(frame, count: count, journal: false, round: round))
        }
        let with = median(journaled), without = median(bare)
        print("tick journal on the bridge's hot path, \(count) frames of \(frame.count) bytes accepted (median of 5, alternating)")
        print(String(format: "  accept, journaled       %10.0f frames/s   %6.0f ns/frame", with, 1e9 / with))
        print(String(format: "  baseline, no journal    %10.0f frames/s   %6.0f ns/frame", without, 1e9 / without))
        print(String(format: "  cost                    %10.0f ns/frame  (%.2f x the baseline's time)", 1e9 / with - 1e9 / without, without / with))
    }

    private func rate(_ frame: [UInt8], count: Int, journal: Bool, round: Int) throws -> Double {
        let place = folder.appendingPathComponent("journal-bench-\(round)-\(journal)")
        try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: place) }
        let store = try SQLiteTickStore(path: place.appendingPathComponent("ticks.db").path)
        let ingest = TickIngest(
            store: store, spool: try TickSpool(path: place.appendingPathComponent("ticks.spool").path),
            journal: journal ? try TickJournal(directory: place.appendingPathComponent("journal").path) : nil,
            logger: Logger(label: "bench"), parse: { _ in nil }
        )
        let start = ContinuousClock.now
        frame.withUnsafeBytes { bytes in
            for _ in 0..<count { ingest.accept(bytes) }
        }
        return Double(count) / start.duration(to: .now).seconds
    }
}
