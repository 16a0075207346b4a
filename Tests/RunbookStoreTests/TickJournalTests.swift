import Foundation
import Logging
import RunbookSQLite
import RunbookStore
import RunbookTestSupport
import Testing

/// The journal keeps what a killed process relayed and had not stored; the spool gives back
/// what it was given, byte for byte.
@Suite struct TickJournalTests {
    static func frame(_ n: Int, symbol: String = "EURUSD") -> [UInt8] {
        Array("\(symbol),\(1_763_700_000_000 + n),1.\(10_000 + n % 1000)".utf8)
    }

    static let parse: @Sendable (UnsafeRawBufferPointer) -> Tick? = { bytes in
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: ",")
        guard fields.count == 3, let time = Int64(fields[1]), let bid = Double(fields[2]) else { return nil }
        return Tick(symbol: String(fields[0]), timeMsc: time, bid: bid, ask: bid + 0.0001)
    }

    func ingest(_ folder: URL, journal: TickJournal) throws -> TickIngest {
        var settings = TickIngest.Settings()
        settings.interval = .milliseconds(10)
        settings.retryDelays = [.milliseconds(10)]
        settings.replayEvery = .milliseconds(20)
        return TickIngest(
            store: try SQLiteTickStore(path: folder.appendingPathComponent("ticks.db").path),
            spool: try TickSpool(path: folder.appendingPathComponent("ticks.spool").path), journal: journal, settings: settings,
            logger: Logger(label: "test"), parse: Self.parse
        )
    }

    /// What a process left when it was killed: batch 1 stored, batch 2 spooled, batch 3 taken and
    /// not yet stored, and frames accepted after it. Small segments make it span several files.
    @Test func whatAKilledProcessJournaledIsStoredOnceByTheNextStart() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let directory = folder.appendingPathComponent("journal").path
        let store = try SQLiteTickStore(path: folder.appendingPathComponent("ticks.db").path)
        let spool = try TickSpool(path: folder.appendingPathComponent("ticks.spool").path)
        do {
            let journal = try TickJournal(directory: directory, segmentBytes: 4096)
            var n = 0
            func append(_ count: Int) -> [Tick] {
                defer { n += count }
                return (n..<n + count).map { index in
                    let frame = Self.frame(index)
                    frame.withUnsafeBytes { journal.append($0) }
                    return frame.withUnsafeBytes { Self.parse($0)! }
                }
            }
            let first = append(100)
            journal.mark(batch: 1)
            try await store.storing(TickBatch(id: 1, ticks: first))
            let second = append(150)
            journal.mark(batch: 2)
            try spool.append(TickBatch(id: 2, ticks: second))
            _ = append(120)
            journal.mark(batch: 3)
            _ = append(77)
            // The process dies here: nothing is closed or flushed by it.
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count > 3)

        let journal = try TickJournal(directory: directory)
        let second = try ingest(folder, journal: journal)
        #expect(journal.leftover.batches.map(\.id) == [1, 2, 3, nil])
        let running = Task { await second.run() }
        #expect(await eventually { second.counters.recovered == 197 })
        #expect(await eventually { (try? await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).count) == 447 })
        running.cancel()
        await running.value
        let stored = try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil)
        #expect(Set(stored.map(\.timeMsc)) == Set((0..<447).map { 1_763_700_000_000 + Int64($0) }))
        #expect(spool.isEmpty)
        // The segments the earlier process left are gone once their ticks are safe.
        #expect(journal.leftover.files.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    }

    /// A running ingest journals every frame and lets segments go once their batches are stored.
    @Test func segmentsAreRemovedOnceTheirBatchesAreStored() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let directory = folder.appendingPathComponent("journal").path
        let journal = try TickJournal(directory: directory, segmentBytes: 8192)
        let ingest = try ingest(folder, journal: journal)
        let running = Task { await ingest.run() }
        for n in 0..<5000 {
            Self.frame(n).withUnsafeBytes { ingest.accept($0) }
            if n % 500 == 499 { try await Task.sleep(for: .milliseconds(30)) }
        }
        #expect(await eventually { ingest.counters.stored == 5000 })
        // About 30 bytes a frame: 5000 frames filled some twenty segments; one or two remain.
        #expect(await eventually { ((try? FileManager.default.contentsOfDirectory(atPath: directory).count) ?? 99) <= 2 })
        running.cancel()
        await running.value
        #expect(journal.unjournaled == 0)
    }

    @Test func theSpoolGivesBackEveryByte() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("ticks.spool").path
        let spool = try TickSpool(path: path)
        let ticks = [
            Tick(symbol: String(repeating: "S", count: 300), timeMsc: 1, bid: 1.5, ask: 1.6, volume: 2),
            Tick(symbol: String(repeating: "é", count: 200), timeMsc: -5, bid: -0.0, ask: .leastNonzeroMagnitude, volume: 0.1),
            Tick(symbol: "EURUSD", timeMsc: .max, bid: 1e9, ask: -1e9, volume: 1e15),
        ]
        try spool.append(TickBatch(id: 7, ticks: ticks))
        let back = try #require(spool.batches().first)
        #expect(back.id == 7)
        #expect(back.ticks.map { Array($0.symbol.utf8) } == ticks.map { Array($0.symbol.utf8) })
        #expect(back.ticks.map(\.bid.bitPattern) == ticks.map(\.bid.bitPattern))
        #expect(back.ticks == ticks)
    }

    /// A crash in the middle of an append leaves half a record, or a length over zeros the file
    /// system extended the file with (found by fuzzing: a zero length hid every later batch):
    /// the next open cuts it, so what is spooled after it is not hidden behind it.
    @Test(arguments: [[200, 0, 0, 0, 1, 2, 3], [UInt8](repeating: 0, count: 16), [5, 0, 0, 0, 1, 2, 3, 4, 5], [12, 0, 0, 0] + [UInt8](repeating: 0, count: 8) + [9, 0, 0, 0]])
    func aHalfWrittenRecordDoesNotHideWhatFollows(tail: [UInt8]) async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("ticks.spool").path
        try TickSpool(path: path).append(TickBatch(id: 1, ticks: [Tick(symbol: "EURUSD", timeMsc: 1, bid: 1, ask: 2)]))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(tail))
        try handle.close()
        let reopened = try TickSpool(path: path)
        try reopened.append(TickBatch(id: 2, ticks: [Tick(symbol: "XAUUSD", timeMsc: 2, bid: 3, ask: 4)]))
        #expect(reopened.batches().map(\.id) == [1, 2])
    }

    /// A spool written by the first format (one-byte symbol lengths, no header) is read and
    /// rewritten, not misread.
    @Test func aSpoolOfTheFirstFormatIsRewritten() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("ticks.spool").path
        var record: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { record += $0 } }
        put(Int64(9))
        put(UInt32(1))
        record.append(6)
        record += Array("EURUSD".utf8)
        put(Int64(42))
        put((1.25).bitPattern)
        put((1.5).bitPattern)
        put((3.0).bitPattern)
        var file: [UInt8] = []
        withUnsafeBytes(of: UInt32(record.count).littleEndian) { file += $0 }
        file += record
        _ = FileManager.default.createFile(atPath: path, contents: Data(file))
        let spool = try TickSpool(path: path)
        #expect(spool.batches().map(\.id) == [9])
        #expect(spool.batches().first?.ticks == [Tick(symbol: "EURUSD", timeMsc: 42, bid: 1.25, ask: 1.5, volume: 3)])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).starts(with: Array("RBSPOOL2".utf8)))
    }
}
