import CZlib
import Foundation

/// Packs a run of one symbol's ticks into a small block and back, bit-exact.
///
/// Times are stored as the first time, then deltas (ticks arrive at random, so deltas of deltas
/// would only widen them); prices as integer
/// points (the smallest power of ten at which every price converts back to the very same Double)
/// with the bid as deltas and the ask as the spread, all zigzag varints; prices that no power of
/// ten up to 10^10 reproduces exactly are stored as raw 64-bit patterns. Each field is a column of
/// its own (all times, then all bids, then all spreads, then volumes), which zlib, finishing the
/// block, compresses far better than fields interleaved tick by tick.
public enum TickCodec {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private static let version: UInt8 = 3

    public static func encode(_ ticks: [Tick]) throws -> [UInt8] {
        var out: [UInt8] = [version]
        putVarint(UInt64(ticks.count), &out)
        guard !ticks.isEmpty else { return try deflate(out) }
        // Time: first, then deltas.
        var previous = ticks[0].timeMsc
        putVarint(zigzag(previous), &out)
        for tick in ticks.dropFirst() {
            putVarint(zigzag(tick.timeMsc &- previous), &out)
            previous = tick.timeMsc
        }
        // Prices.
        let prices = ticks.flatMap { [$0.bid, $0.ask] }
        if let digits = exactDigits(prices) {
            out.append(UInt8(digits))
            let scale = pow(10, Double(digits))
            var lastBid: Int64 = 0
            var spreads: [UInt8] = []
            for tick in ticks {
                let bid = Int64((tick.bid * scale).rounded())
                let ask = Int64((tick.ask * scale).rounded())
                putVarint(zigzag(bid &- lastBid), &out)
                putVarint(zigzag(ask &- bid), &spreads)
                lastBid = bid
            }
            out += spreads
        } else {
            out.append(0xFF)
            for tick in ticks { putFixed(tick.bid.bitPattern, &out) }
            for tick in ticks { putFixed(tick.ask.bitPattern, &out) }
        }
        // Volume: whole numbers as varints, anything else raw.
        if ticks.allSatisfy({ $0.volume >= 0 && $0.volume.rounded() == $0.volume && $0.volume < 1e15 && !($0.volume == 0 && $0.volume.sign == .minus) }) {
            out.append(0)
            for tick in ticks { putVarint(UInt64(tick.volume), &out) }
        } else {
            out.append(1)
            for tick in ticks { putFixed(tick.volume.bitPattern, &out) }
        }
        return try deflate(out)
    }

    public static func decode(_ block: [UInt8], symbol: String) throws -> [Tick] {
        var reader = Reader(bytes: try inflate(block))
        guard try reader.byte() == version else { throw Failure(description: "unknown block version") }
        // Every tick takes at least a byte of each column: a count beyond what is left is damage.
        let announced = try reader.varint()
        guard announced <= UInt64(reader.remaining) else { throw Failure(description: "block announces \(announced) ticks in \(reader.remaining) bytes") }
        let count = Int(announced)
        guard count > 0 else { return [] }
        var times: [Int64] = []
        times.reserveCapacity(count)
        var time = unzigzag(try reader.varint())
        times.append(time)
        for _ in 1..<count {
            time = time &+ unzigzag(try reader.varint())
            times.append(time)
        }
        var bids: [Double] = []
        var asks: [Double] = []
        let digits = try reader.byte()
        if digits == 0xFF {
            for _ in 0..<count { bids.append(Double(bitPattern: try reader.fixed())) }
            for _ in 0..<count { asks.append(Double(bitPattern: try reader.fixed())) }
        } else {
            let scale = pow(10, Double(digits))
            var points: [Int64] = []
            var bid: Int64 = 0
            for _ in 0..<count {
                bid = bid &+ unzigzag(try reader.varint())
                points.append(bid)
                bids.append(Double(bid) / scale)
            }
            for index in 0..<count { asks.append(Double(points[index] &+ unzigzag(try reader.varint())) / scale) }
        }
        var volumes: [Double] = []
        if try reader.byte() == 0 {
            for _ in 0..<count { volumes.append(Double(try reader.varint())) }
        } else {
            for _ in 0..<count { volumes.append(Double(bitPattern: try reader.fixed())) }
        }
        return (0..<count).map { Tick(symbol: symbol, timeMsc: times[$0], bid: bids[$0], ask: asks[$0], volume: volumes[$0]) }
    }

    /// The fewest decimal digits at which every value survives value -> integer points -> value unchanged.
    static func exactDigits(_ values: [Double]) -> Int? {
        for digits in 0...10 {
            let scale = pow(10, Double(digits))
            if values.allSatisfy({ value in
                let points = (value * scale).rounded()
                return abs(points) < 9e15 && (Double(Int64(points)) / scale).bitPattern == value.bitPattern
            }) { return digits }
        }
        return nil
    }

    private static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    private static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

    private static func putVarint(_ value: UInt64, _ out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    private static func putFixed(_ value: UInt64, _ out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var remaining: Int { bytes.count - position }

        mutating func byte() throws -> UInt8 {
            guard position < bytes.count else { throw Failure(description: "block ends early") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let byte = try byte()
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
                guard shift < 64 else { throw Failure(description: "varint too long") }
            }
        }

        mutating func fixed() throws -> UInt64 {
            guard position + 8 <= bytes.count else { throw Failure(description: "block ends early") }
            defer { position += 8 }
            return UInt64(littleEndian: bytes[position..<position + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        }
    }

    // MARK: zlib

    private static func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(length) + 4)
        withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { header in
            for index in 0..<4 { out[index] = header[index] }
        }
        let status = out.withUnsafeMutableBufferPointer { buffer in
            bytes.withUnsafeBufferPointer { compress2(buffer.baseAddress! + 4, &length, $0.baseAddress, uLong(bytes.count), 9) }
        }
        guard status == Z_OK else { throw Failure(description: "zlib could not compress a block (\(status))") }
        return Array(out.prefix(Int(length) + 4))
    }

    private static func inflate(_ block: [UInt8]) throws -> [UInt8] {
        guard block.count >= 4 else { throw Failure(description: "block too short") }
        let size = Int(UInt32(littleEndian: block.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        // deflate packs at most 1032 to 1: a larger size is a damaged header, not a block to make room for.
        guard size <= (block.count - 4) * 1032 + 64 else { throw Failure(description: "block announces \(size) bytes from \(block.count)") }
        var out = [UInt8](repeating: 0, count: max(size, 1))
        var length = uLong(size)
        let status = out.withUnsafeMutableBufferPointer { buffer in
            block.withUnsafeBufferPointer { uncompress(buffer.baseAddress, &length, $0.baseAddress! + 4, uLong(block.count - 4)) }
        }
        guard status == Z_OK, Int(length) == size else { throw Failure(description: "zlib could not read a block (\(status))") }
        return out
    }
}
