import Foundation
import Testing

@testable import RunbookFlows

/// The file the flows' records wait in while the records cannot be reached.
@Suite struct FlowRecordSpoolTests {
    @Test func aSpoolKeepsItsRecordsInOrderAcrossAReopenAndCutsALineACrashLeftHalfWritten() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("flow-records.spool").path
        let at = Date(timeIntervalSince1970: 1_800_000_000.123)
        let fire = FlowMessage.Fire(id: "F1", target: "ea-01", symbol: "EURUSD", direction: "BUY", lot: 0.1, stopLoss: 1.08)
        let written: [FlowRecordSpool.Entry] = [
            .fireQueued(fire, at: at), .fireSent(id: "F1", at: at),
            .heartbeats(target: "ea-01", account: nil, at: at, count: 3), .probe(id: "p-1", at: at),
        ]
        let spool = try FlowRecordSpool(path: path)
        for entry in written { try spool.append(entry) }
        // A crash in the middle of an append.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"probe":{"id":"p-2","#.utf8))
        try handle.close()

        let reopened = try FlowRecordSpool(path: path)
        #expect(reopened.entries() == written)
        try reopened.append(.fireFailed(id: "F2", reason: "gate", at: at))
        #expect(reopened.count == 5)
        #expect(try reopened.dropFirst(2) == 3)
        #expect(reopened.entries() == Array(written.dropFirst(2)) + [.fireFailed(id: "F2", reason: "gate", at: at)])
        #expect(try reopened.dropFirst(3) == 0)
        #expect(reopened.count == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "the records are the operator's alone")
    }
}
