import Foundation

/// An append-only file of batches that could not be stored, replayed in order once the store is
/// back. Each record is fsynced before `append` returns, so a spooled tick survives a crash.
///
/// Record: length (UInt32, little-endian) of what follows, then batch id (Int64), tick count
/// (UInt32), and per tick: symbol length (UInt8), symbol (UTF-8), time_msc (Int64), bid, ask,
/// volume (Float64 bit patterns). A record cut short by a crash ends the readable spool.
public final class TickSpool: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()

    public init(path: String) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    }

    /// Batches waiting in the spool.
    public var isEmpty: Bool { lock.withLock { (Self.size(path) ?? 0) == 0 } }

    public var bytes: Int { lock.withLock { Self.size(path) ?? 0 } }

    public func append(_ batch: TickBatch) throws {
        var record = [UInt8]()
        Self.put(batch.id, into: &record)
        Self.put(UInt32(batch.ticks.count), into: &record)
        for tick in batch.ticks {
            let symbol = Array(tick.symbol.utf8.prefix(255))
            record.append(UInt8(symbol.count))
            record += symbol
            Self.put(tick.timeMsc, into: &record)
            Self.put(tick.bid.bitPattern, into: &record)
            Self.put(tick.ask.bitPattern, into: &record)
            Self.put(tick.volume.bitPattern, into: &record)
        }
        var framed = [UInt8]()
        Self.put(UInt32(record.count), into: &framed)
        framed += record
        lock.lock()
        defer { lock.unlock() }
        do {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            guard fd >= 0 else { throw SpoolError("cannot open the spool \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let written = framed.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == framed.count, fsync(fd) == 0 else {
                throw SpoolError("cannot write the spool \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Every whole batch in the spool, oldest first.
    public func batches() -> [TickBatch] {
        lock.withLock {
            guard let data = FileManager.default.contents(atPath: path) else { return [] }
            var reader = Reader(bytes: [UInt8](data))
            var batches: [TickBatch] = []
            while let length = reader.uint32(), let record = reader.take(Int(length)) {
                var body = Reader(bytes: record)
                guard let id = body.int64(), let count = body.uint32() else { break }
                var ticks: [Tick] = []
                ticks.reserveCapacity(Int(count))
                for _ in 0..<count {
                    guard let length = body.uint8(), let symbol = body.take(Int(length)), let time = body.int64(),
                          let bid = body.uint64(), let ask = body.uint64(), let volume = body.uint64()
                    else { break }
                    ticks.append(Tick(symbol: String(decoding: symbol, as: UTF8.self), timeMsc: time, bid: Double(bitPattern: bid), ask: Double(bitPattern: ask), volume: Double(bitPattern: volume)))
                }
                batches.append(TickBatch(id: id, ticks: ticks))
            }
            return batches
        }
    }

    /// Empties the spool once every batch in it is stored.
    public func clear() throws {
        try lock.withLock {
            guard truncate(path, 0) == 0 || errno == ENOENT else { throw SpoolError("cannot empty the spool \(path): \(String(cString: strerror(errno)))") }
        }
    }

    private static func size(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.intValue
    }

    private static func put<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func take(_ count: Int) -> [UInt8]? {
            guard count >= 0, position + count <= bytes.count else { return nil }
            defer { position += count }
            return Array(bytes[position..<position + count])
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard let raw = take(MemoryLayout<T>.size) else { return nil }
            return T(littleEndian: raw.withUnsafeBytes { $0.loadUnaligned(as: T.self) })
        }

        mutating func uint8() -> UInt8? { integer(UInt8.self) }
        mutating func uint32() -> UInt32? { integer(UInt32.self) }
        mutating func int64() -> Int64? { integer(Int64.self) }
        mutating func uint64() -> UInt64? { integer(UInt64.self) }
    }
}

public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
