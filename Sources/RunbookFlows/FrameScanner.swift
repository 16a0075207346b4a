/// Reads the few fields the telemetry bridge needs straight from a frame's bytes, without
/// decoding JSON, so that relaying stays cheap: the `type`, and for a tick its symbol and that
/// its prices and time are numbers.
#if canImport(Glibc)
import Glibc
#endif

public struct FrameScanner {
    enum Verdict: Equatable {
        /// A tick, with where its symbol lies in the frame.
        case tick(symbol: Range<Int>)
        case heartbeat
        case malformed(MalformedReason)
    }

    /// Where the values of the keys the bridge reads start, found in one pass over the frame.
    struct Fields {
        var type: Int?
        var symbol: Int?
        var bid: Int?
        var ask: Int?
        var timeMsc: Int?
        var volume: Int?
    }

    static func scan(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        scan(bytes, fields: locate(bytes))
    }

    private static func scan(_ bytes: UnsafeRawBufferPointer, fields: Fields) -> Verdict {
        guard bytes.count <= FlowMessage.maximumSize else { return .malformed(.tooLarge) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return .malformed(.notJSON)
        }
        guard bytes[first] == UInt8(ascii: "{"), bytes[last] == UInt8(ascii: "}") else {
            return bytes[first] == UInt8(ascii: "{") || bytes[first] == UInt8(ascii: "[") || bytes[first] == UInt8(ascii: "\"")
                ? .malformed(bytes[first] == UInt8(ascii: "{") ? .notJSON : .notObject) : .malformed(.notJSON)
        }
        guard let typeStart = fields.type else { return .malformed(.missingType) }
        guard let type = string(at: typeStart, in: bytes) else { return .malformed(.wrongType) }
        if equal(bytes, type, "tick") {
            guard let symbolStart = fields.symbol else { return .malformed(.missingField) }
            guard let symbol = string(at: symbolStart, in: bytes), !symbol.isEmpty else { return .malformed(.wrongType) }
            for start in [fields.bid, fields.ask, fields.timeMsc] {
                guard let start else { return .malformed(.missingField) }
                guard isNumberStart(bytes[start]) else { return .malformed(.wrongType) }
            }
            return .tick(symbol: symbol)
        }
        if equal(bytes, type, "heartbeat") { return .heartbeat }
        return .malformed(.unknownType)
    }

    /// A tick's fields read straight from its frame; nil when it is not a well-formed tick.
    public static func tick(_ bytes: UnsafeRawBufferPointer) -> (symbol: String, timeMsc: Int64, bid: Double, ask: Double, volume: Double)? {
        let fields = locate(bytes)
        guard case .tick(let symbolRange) = scan(bytes, fields: fields),
              let bid = number(at: fields.bid, in: bytes), let ask = number(at: fields.ask, in: bytes),
              let time = number(at: fields.timeMsc, in: bytes), time.rounded() == time
        else { return nil }
        let symbol = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[symbolRange]), as: UTF8.self)
        return (symbol, Int64(time), bid, ask, number(at: fields.volume, in: bytes) ?? 0)
    }

    /// Where the fields lie: a tick written as the wire format writes it (SPEC section 2: type,
    /// symbol, bid, ask, time_msc, then optionally volume, no spaces) is read by a fixed walk;
    /// anything else by the general scan.
    static func locate(_ frame: UnsafeRawBufferPointer) -> Fields {
        canonicalTick(frame) ?? scanKeys(frame)
    }

    private static let tickPrefix = Array(#"{"type":"tick","symbol":""#.utf8)
    private static let bidKey = Array(#"","bid":"#.utf8)
    private static let askKey = Array(#","ask":"#.utf8)
    private static let timeKey = Array(#","time_msc":"#.utf8)
    private static let volumeKey = Array(#","volume":"#.utf8)

    /// The fields of a tick in the wire format's own order and spacing; nil for any other frame.
    static func canonicalTick(_ frame: UnsafeRawBufferPointer) -> Fields? {
        guard let base = frame.baseAddress, frame.count <= FlowMessage.maximumSize else { return nil }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let count = frame.count
        var position = 0
        func expect(_ literal: [UInt8]) -> Bool {
            guard count - position >= literal.count, literal.withUnsafeBytes({ memcmp(base + position, $0.baseAddress!, literal.count) }) == 0 else { return false }
            position += literal.count
            return true
        }
        func number() -> Int? {
            let start = position
            while position < count, isNumberByte(bytes[position]) { position += 1 }
            return position > start ? start : nil
        }
        var fields = Fields()
        guard expect(tickPrefix) else { return nil }
        fields.type = 8
        fields.symbol = position - 1
        while position < count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\") { position += 1 }
        guard expect(bidKey), let bid = number(), expect(askKey), let ask = number(), expect(timeKey), let time = number() else { return nil }
        (fields.bid, fields.ask, fields.timeMsc) = (bid, ask, time)
        if expect(volumeKey) {
            guard let volume = number() else { return nil }
            fields.volume = volume
        }
        guard position == count - 1, bytes[position] == UInt8(ascii: "}") else { return nil }
        return fields
    }

    /// One pass over the frame's strings: a string followed by `:` is a key, and the first value
    /// of each key read here is noted. Text inside string values is never taken for a key.
    static func scanKeys(_ frame: UnsafeRawBufferPointer) -> Fields {
        var fields = Fields()
        guard frame.count <= FlowMessage.maximumSize, let base = frame.baseAddress else { return fields }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let count = frame.count
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var position = 0
        while position < count {
            guard bytes[position] == quote else {
                position += 1
                continue
            }
            let open = position + 1
            var close = open
            while close < count, bytes[close] != quote {
                close += bytes[close] == backslash ? 2 : 1
            }
            guard close < count else { break }
            var after = close + 1
            while after < count, isSpace(bytes[after]) { after += 1 }
            guard after < count, bytes[after] == UInt8(ascii: ":") else {
                position = close + 1
                continue
            }
            after += 1
            while after < count, isSpace(bytes[after]) { after += 1 }
            if after < count {
                let key = base + open
                switch close - open {
                case 3:
                    let word = UInt64(bytes[open]) | UInt64(bytes[open + 1]) << 8 | UInt64(bytes[open + 2]) << 16
                    if word == Self.bid { fields.bid = fields.bid ?? after }
                    if word == Self.ask { fields.ask = fields.ask ?? after }
                case 4:
                    if UInt64(key.loadUnaligned(as: UInt32.self)) == Self.type { fields.type = fields.type ?? after }
                case 6:
                    let word = UInt64(key.loadUnaligned(as: UInt32.self)) | UInt64(key.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) << 32
                    if word == Self.symbol { fields.symbol = fields.symbol ?? after }
                    if word == Self.volume { fields.volume = fields.volume ?? after }
                case 8:
                    if key.loadUnaligned(as: UInt64.self) == Self.timeMsc { fields.timeMsc = fields.timeMsc ?? after }
                default: break
                }
            }
            position = after
        }
        return fields
    }

    // The keys read, as little-endian integers of their bytes, compared in one instruction.
    private static let bid = word("bid"), ask = word("ask"), type = word("type"), symbol = word("symbol")
    private static let volume = word("volume"), timeMsc = word("time_msc")

    private static func word(_ key: StaticString) -> UInt64 {
        var value: UInt64 = 0
        for offset in 0..<key.utf8CodeUnitCount { value |= UInt64(key.utf8Start[offset]) << (8 * UInt64(offset)) }
        return value
    }

    /// The number starting at `start`, parsed by strtod from a copy on the stack.
    private static func number(at start: Int?, in bytes: UnsafeRawBufferPointer) -> Double? {
        guard let start else { return nil }
        var end = start
        while end < bytes.count, isNumberByte(bytes[end]) { end += 1 }
        guard end > start, end - start < 40 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: end - start + 1) { text -> Double? in
            for index in start..<end { text[index - start] = CChar(bitPattern: bytes[index]) }
            text[end - start] = 0
            var stop: UnsafeMutablePointer<CChar>?
            let value = strtod(text.baseAddress!, &stop)
            guard let stop, stop.pointee == 0, value.isFinite else { return nil }
            return value
        }
    }

    @inline(__always)
    private static func equal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        let start = word.utf8Start
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != start[offset] { return false }
        return true
    }

    @inline(__always)
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func isNumberStart(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return true
        default: return false
        }
    }

    /// The text of the string value starting at `start` (escapes not needed for the fields read here).
    private static func string(at start: Int, in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        guard bytes[start] == UInt8(ascii: "\"") else { return nil }
        var end = start + 1
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
            if bytes[end] == UInt8(ascii: "\\") { return nil }
            end += 1
        }
        guard end < bytes.count else { return nil }
        return (start + 1)..<end
    }
}

/// Ticks per symbol, counted from the frames' bytes without making strings; the symbols seen
/// are kept across batches, the counts are taken per batch.
struct SymbolTally {
    private var names: [String] = []
    private var counts: [Int] = []

    mutating func add(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        let symbol = UnsafeRawBufferPointer(rebasing: bytes[range])
        for index in names.indices where names[index].utf8.count == symbol.count {
            // A native string's UTF-8 is contiguous: compared in place, without a copy.
            if names[index].utf8.withContiguousStorageIfAvailable({ memcmp($0.baseAddress!, symbol.baseAddress!, symbol.count) == 0 })
                ?? names[index].utf8.elementsEqual(symbol)
            {
                counts[index] += 1
                return
            }
        }
        names.append(String(decoding: symbol, as: UTF8.self))
        counts.append(1)
    }

    /// The counts since the last call, by symbol name.
    mutating func takeCounts() -> [(symbol: String, count: Int)] {
        var taken: [(symbol: String, count: Int)] = []
        for index in counts.indices where counts[index] > 0 {
            taken.append((names[index], counts[index]))
            counts[index] = 0
        }
        // A feed of many symbols (or made-up ones) must not make every tick search a long list.
        if names.count > 256 { self = SymbolTally() }
        return taken
    }
}
