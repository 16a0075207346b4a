import Foundation
import Synchronization

/// The batch ids an ingest hands out, reserved in a file a block at a time: a start that cannot
/// read the store (a database server that is down) still numbers its batches above every id the
/// store may already hold, so none is taken for a replay and skipped when the store is back.
final class BatchIDs: Sendable {
    let path: String
    /// Every id handed out is at most this, on disk before it is handed out.
    private let reserved: Mutex<Int64>
    static let block: Int64 = 10_000

    init(path: String) {
        self.path = path
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        reserved = Mutex(text.flatMap { Int64($0) } ?? 0)
    }

    var highestReserved: Int64 { reserved.withLock { $0 } }

    /// Makes `id` safe to hand out: when it is past the reservation, the next block is written
    /// and synced first.
    func reserve(through id: Int64) throws {
        try reserved.withLock { reserved in
            guard id > reserved else { return }
            let next = id + Self.block
            let temporary = path + ".tmp"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw SpoolError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
            let bytes = Array("\(next)\n".utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let synced = fsync(fd)
            close(fd)
            guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
                throw SpoolError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            reserved = next
        }
    }
}
