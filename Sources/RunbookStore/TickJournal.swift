import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every frame the telemetry bridge accepts, written before it is relayed into memory-mapped
/// segment files, until the batch that holds it is stored or spooled. A process killed at any
/// moment leaves what it wrote in the kernel's page cache, so the next start recovers every
/// relayed tick; `sync()` (every `sync_interval`) bounds what a machine crash can take.
///
/// Segment: a 32-byte header (magic `RBTJ`, version 1, the batch id the engine would give next
/// when it was made), then records: a length (UInt32, little-endian) and that many bytes of
/// frame, or the length 0xFFFFFFFF and a batch id (Int64): the frames since the previous mark
/// make up that batch. The length is written after what it announces, so a record is either
/// whole or not there; a zero length ends the segment.
public final class TickJournal: @unchecked Sendable {
    public let directory: String
    let segmentBytes: Int

    private struct Segment {
        let path: String
        let base: UnsafeMutableRawPointer
        let size: Int
    }

    // The segment being written and what it holds are the hot path's, under its owner's lock.
    private var current: Segment?
    private var offset = 0
    private var currentMark: Int64?
    private var trailingFrames = false
    private var nextNumber = 0
    private var nextBatch: Int64 = 1
    /// Segments no longer written, with the batch that covers all their frames once it is
    /// marked; these and `current` change under `lock`, which `sync` and `durable` take.
    private var closed: [(segment: Segment, coveredBy: Int64?)] = []
    private let lock = NSLock()
    /// Frames that could not be journaled (a segment that could not be made): counted, and the
    /// frame still goes on to the store.
    public private(set) var unjournaled = 0

    static let headerSize = 32
    static let markLength = UInt32.max
    private static let magic: [UInt8] = Array("RBTJ".utf8)

    /// Opens the journal in `directory`, after the segments an earlier process left (`leftover`:
    /// remove them once what they hold is safe elsewhere).
    public init(directory: String, segmentBytes: Int = 32 << 20) throws {
        self.directory = directory
        self.segmentBytes = segmentBytes
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        leftover = Self.read(directory: directory)
        nextNumber = (Self.segmentFiles(in: directory).last?.number ?? 0) + 1
    }

    /// What an earlier process left in the directory, read when the journal was opened.
    public let leftover: Leftover

    deinit {
        if let current { munmap(current.base, current.size) }
        for entry in closed { munmap(entry.segment.base, entry.segment.size) }
    }

    // MARK: The hot path (called under the owner's lock)

    /// Appends one frame. Called before the frame is relayed.
    public func append(_ frame: UnsafeRawBufferPointer) {
        let needed = 4 + frame.count
        guard let segment = room(for: needed) else {
            unjournaled += 1
            return
        }
        let at = segment.base + offset
        if let source = frame.baseAddress { (at + 4).copyMemory(from: source, byteCount: frame.count) }
        at.storeBytes(of: UInt32(frame.count).littleEndian, toByteOffset: 0, as: UInt32.self)
        offset += needed
        trailingFrames = true
    }

    /// Marks the frames appended since the last mark as batch `id`.
    public func mark(batch id: Int64) {
        nextBatch = id + 1
        guard let segment = room(for: 12) else { return }
        let at = segment.base + offset
        at.storeBytes(of: id.littleEndian, toByteOffset: 4, as: Int64.self)
        at.storeBytes(of: Self.markLength.littleEndian, toByteOffset: 0, as: UInt32.self)
        offset += 12
        currentMark = id
        trailingFrames = false
        // Segments closed in the middle of this batch are covered by it.
        if closed.last.map({ $0.coveredBy == nil }) == true {
            lock.withLock {
                for index in closed.indices where closed[index].coveredBy == nil { closed[index].coveredBy = id }
            }
        }
    }

    /// The current segment if `bytes` fit in it (the zero length that ends it included), or a new one.
    private func room(for bytes: Int) -> Segment? {
        if let current, offset + bytes + 4 <= current.size { return current }
        guard Self.headerSize + bytes + 4 <= segmentBytes, let segment = makeSegment() else { return nil }
        lock.withLock {
            if let current { closed.append((current, trailingFrames ? nil : currentMark)) }
            current = segment
        }
        offset = Self.headerSize
        currentMark = nil
        trailingFrames = false
        return segment
    }

    private func makeSegment() -> Segment? {
        let number = nextNumber
        nextNumber += 1
        let path = (directory as NSString).appendingPathComponent(String(format: "ticks-%010d.journal", number))
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard ftruncate(fd, off_t(segmentBytes)) == 0 else { return nil }
        guard let base = mmap(nil, segmentBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else { return nil }
        Self.magic.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: 4) }
        base.storeBytes(of: UInt32(1).littleEndian, toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: nextBatch.littleEndian, toByteOffset: 8, as: Int64.self)
        return Segment(path: path, base: base, size: segmentBytes)
    }

    // MARK: Off the hot path

    /// Every batch up to `id` is stored or spooled: closed segments that hold nothing newer are
    /// unmapped and their files removed (the segment being written stays).
    public func durable(through id: Int64) {
        let removed = lock.withLock { () -> [Segment] in
            var removed: [Segment] = []
            while let first = closed.first, let covered = first.coveredBy, covered <= id {
                removed.append(closed.removeFirst().segment)
            }
            return removed
        }
        for segment in removed {
            munmap(segment.base, segment.size)
            unlink(segment.path)
        }
    }

    /// Writes what the segments hold to the disk, so that a machine crash loses at most what was
    /// appended since.
    public func sync() {
        lock.withLock {
            if let current { msync(current.base, current.size, MS_SYNC) }
            for entry in closed { msync(entry.segment.base, entry.segment.size, MS_SYNC) }
        }
    }

    /// Removes segment files (what an earlier process left, once it is safe elsewhere).
    public static func remove(_ paths: [String]) {
        for path in paths { unlink(path) }
    }

    // MARK: Recovery

    /// What an earlier process left: batches by the id they were marked with (nil for frames
    /// appended after the last mark), oldest first, and the highest batch id the journal knew of.
    public struct Leftover: Sendable {
        public var batches: [(id: Int64?, frames: [[UInt8]])] = []
        public var highestID: Int64 = 0
        public var files: [String] = []
    }

    /// Reads the segments in `directory`, oldest first.
    public static func read(directory: String) -> Leftover {
        var leftover = Leftover()
        var frames: [[UInt8]] = []
        for (_, path) in segmentFiles(in: directory) {
            leftover.files.append(path)
            guard let data = FileManager.default.contents(atPath: path), data.count >= headerSize else { continue }
            data.withUnsafeBytes { bytes in
                guard Array(bytes[0..<4]) == magic else { return }
                // The id the segment's writer would have given next; a damaged header may hold anything.
                let next = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: Int64.self))
                if next > 0 { leftover.highestID = max(leftover.highestID, next - 1) }
                var position = headerSize
                while position + 4 <= bytes.count {
                    let length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
                    if length == 0 { break }
                    if length == markLength {
                        guard position + 12 <= bytes.count else { break }
                        let id = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: position + 4, as: Int64.self))
                        if let last = leftover.batches.last, last.id == id {
                            leftover.batches[leftover.batches.count - 1].frames += frames
                        } else {
                            leftover.batches.append((id, frames))
                        }
                        frames = []
                        leftover.highestID = max(leftover.highestID, id)
                        position += 12
                        continue
                    }
                    guard position + 4 + Int(length) <= bytes.count else { break }
                    frames.append(Array(bytes[(position + 4)..<(position + 4 + Int(length))]))
                    position += 4 + Int(length)
                }
            }
        }
        if !frames.isEmpty { leftover.batches.append((nil, frames)) }
        return leftover
    }

    /// Whether an earlier process left segments in `directory`, without reading them.
    public static func hasSegments(in directory: String) -> Bool {
        !segmentFiles(in: directory).isEmpty
    }

    private static func segmentFiles(in directory: String) -> [(number: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("ticks-"), name.hasSuffix(".journal"), let number = Int(name.dropFirst(6).dropLast(8)) else { return nil }
            return (number, (directory as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }
}
