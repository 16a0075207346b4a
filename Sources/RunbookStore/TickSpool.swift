import Foundation

/// An append-only file of batches that could not be stored, replayed in order once the store is
/// back. Each record is fsynced before `append` returns, so a spooled tick survives a crash, and
/// comes back byte for byte.
///
/// File: the 8 bytes `RBSPOOL2`, then records: length (UInt32, little-endian) of what follows,
/// then batch id (Int64), tick count (UInt32), and per tick: symbol length (UInt16), symbol
/// (UTF-8), time_msc (Int64), bid, ask, volume (Float64 bit patterns). A record cut short by a
/// crash is cut off when the spool is opened, so that what is appended after it stays readable.
/// A spool of the first format (no header, symbol lengths of one byte) is rewritten in this one.
public final class TickSpool: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    static let header = Array("RBSPOOL2".utf8)

    public init(path: String) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        try repair()
    }

    /// Batches waiting in the spool.
    public var isEmpty: Bool { lock.withLock { (Self.size(path) ?? 0) == 0 } }

    public var bytes: Int { lock.withLock { Self.size(path) ?? 0 } }

    public func append(_ batch: TickBatch) throws {
        var record = [UInt8]()
        Self.put(batch.id, into: &record)
        Self.put(UInt32(batch.ticks.count), into: &record)
        for tick in batch.ticks {
            let symbol = Array(tick.symbol.utf8)
            guard symbol.count <= UInt16.max else { throw SpoolError("a symbol of \(symbol.count) bytes cannot be spooled") }
            Self.put(UInt16(symbol.count), into: &record)
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
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot open the spool \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if lseek(fd, 0, SEEK_END) == 0 { framed = Self.header + framed }
        let written = framed.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == framed.count, fsync(fd) == 0 else {
            throw SpoolError("cannot write the spool \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Every whole batch in the spool, oldest first.
    public func batches() -> [TickBatch] {
        lock.withLock {
            guard let data = FileManager.default.contents(atPath: path) else { return [] }
            return Self.decode([UInt8](data))
        }
    }

    /// Empties the spool once every batch in it is stored.
    public func clear() throws {
        try lock.withLock {
            guard truncate(path, 0) == 0 || errno == ENOENT else { throw SpoolError("cannot empty the spool \(path): \(String(cString: strerror(errno)))") }
        }
    }

    /// Cuts a record a crash left half written, and rewrites a spool of the first format.
    private func repair() throws {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return }
        let bytes = [UInt8](data)
        guard bytes.starts(with: Self.header) else {
            let temporary = path + ".rewrite"
            _ = unlink(temporary)
            let rewritten = try TickSpool(path: temporary)
            for batch in Self.decode(bytes) { try rewritten.append(batch) }
            guard rename(temporary, path) == 0 else { throw SpoolError("cannot rewrite the spool \(path): \(String(cString: strerror(errno)))") }
            return
        }
        // A record is kept only when it is whole and reads as a batch to its last byte: a crash
        // can leave a short record, or a length over zeros the file system had not written yet,
        // and what is appended after it must stay readable.
        var reader = Reader(bytes: bytes, position: Self.header.count)
        var whole = reader.position
        while let length = reader.uint32(), let record = reader.take(Int(length)), Self.batch(of: record, current: true) != nil { whole = reader.position }
        if whole < bytes.count, truncate(path, off_t(whole)) != 0 {
            throw SpoolError("cannot cut the half-written end of the spool \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The batches of a spool's bytes, in either format.
    private static func decode(_ bytes: [UInt8]) -> [TickBatch] {
        let current = bytes.starts(with: header)
        var reader = Reader(bytes: bytes, position: current ? header.count : 0)
        var batches: [TickBatch] = []
        while let length = reader.uint32(), let record = reader.take(Int(length)) {
            // The current format's records were checked when the spool was opened; the first
            // format's are read as far as they go.
            guard let batch = batch(of: record, current: current) ?? (current ? nil : partialBatch(of: record)) else { break }
            batches.append(batch)
        }
        return batches
    }

    /// The batch a record holds, when it holds exactly one batch: its ticks end at its last byte.
    private static func batch(of record: [UInt8], current: Bool) -> TickBatch? {
        var body = Reader(bytes: record)
        guard let batch = read(&body, current: current), body.position == record.count, batch.complete else { return nil }
        return batch.batch
    }

    /// As many ticks of a record of the first format as can be read.
    private static func partialBatch(of record: [UInt8]) -> TickBatch? {
        var body = Reader(bytes: record)
        return read(&body, current: false)?.batch
    }

    private static func read(_ body: inout Reader, current: Bool) -> (batch: TickBatch, complete: Bool)? {
        guard let id = body.int64(), let count = body.uint32() else { return nil }
        var ticks: [Tick] = []
        ticks.reserveCapacity(Int(min(count, 1 << 20)))
        for _ in 0..<count {
            guard let length = current ? body.uint16().map(Int.init) : body.uint8().map(Int.init), let symbol = body.take(length),
                  let time = body.int64(), let bid = body.uint64(), let ask = body.uint64(), let volume = body.uint64()
            else { return (TickBatch(id: id, ticks: ticks), false) }
            ticks.append(Tick(symbol: String(decoding: symbol, as: UTF8.self), timeMsc: time, bid: Double(bitPattern: bid), ask: Double(bitPattern: ask), volume: Double(bitPattern: volume)))
        }
        return (TickBatch(id: id, ticks: ticks), true)
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
        mutating func uint16() -> UInt16? { integer(UInt16.self) }
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
