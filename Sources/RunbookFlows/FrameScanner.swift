/// Reads a tick straight from a frame's bytes, without decoding JSON, so that relaying stays
/// cheap: a tick written as the wire format writes it (SPEC section 2) is checked by a fixed walk
/// that accepts only valid JSON; any other frame is decoded by `FlowMessage`. Either way a frame
/// is relayed only when it is valid JSON whose fields are within `TickLimits`.
#if canImport(Glibc)
import Glibc
#endif

/// What a tick may carry. A tick outside these is malformed: counted, dropped, never relayed or
/// stored (Docs/security.md, "Input from the wire").
public enum TickLimits {
    /// Symbol names: 1 to 64 bytes of UTF-8 without control characters (MT5's own are at most 31).
    public static let symbolBytes = 1...64
    /// Bid and ask, in either sign (some contracts have traded below zero).
    public static let price: ClosedRange<Double> = -1e9...1e9
    /// `time_msc`: from 1970 up to 2100-01-01 00:00 UTC.
    public static let timeMsc: ClosedRange<Int64> = 0...4_102_444_800_000
    /// Volume.
    public static let volume: ClosedRange<Double> = 0...1e15

    /// What is wrong with these fields, or nil when they are within the limits.
    public static func problem(symbol: Int, bid: Double, ask: Double, timeMsc: Double, volume: Double) -> String? {
        guard symbolBytes.contains(symbol) else { return "the symbol is \(symbol) bytes, not \(symbolBytes.lowerBound) to \(symbolBytes.upperBound)" }
        guard price.contains(bid), price.contains(ask) else { return "bid or ask outside \(price.lowerBound) to \(price.upperBound)" }
        guard timeMsc.rounded() == timeMsc, Double(self.timeMsc.lowerBound) <= timeMsc, timeMsc <= Double(self.timeMsc.upperBound) else {
            return "time_msc is not a whole number from 0 to \(self.timeMsc.upperBound) (2100-01-01)"
        }
        guard self.volume.contains(volume) else { return "volume outside 0 to \(self.volume.upperBound)" }
        return nil
    }
}

public struct FrameScanner {
    enum Verdict: Equatable {
        /// A tick, with where its symbol lies in the frame.
        case tick(symbol: Range<Int>)
        /// A tick read by the JSON decoder: its symbol by name.
        case decodedTick(symbol: String)
        case heartbeat(FlowMessage)
        case malformed(MalformedReason)
    }

    /// A tick's fields.
    public typealias Values = (symbol: String, timeMsc: Int64, bid: Double, ask: Double, volume: Double)

    /// Where the values of a tick in the wire format lie.
    struct Fields {
        var symbol: Range<Int>
        var bid: Range<Int>
        var ask: Range<Int>
        var timeMsc: Range<Int>
        var volume: Range<Int>?
    }

    static func scan(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        guard bytes.count <= FlowMessage.maximumSize else { return .malformed(.tooLarge) }
        if let fields = canonicalTick(bytes) {
            guard !fields.symbol.isEmpty else { return .malformed(.wrongType) }
            guard numbers(fields, in: bytes) != nil else { return .malformed(.outOfRange) }
            return .tick(symbol: fields.symbol)
        }
        switch FlowMessage.result(of: bytes) {
        case .success(.tick(let symbol, _, _, _, _)): return .decodedTick(symbol: symbol)
        case .success(let message):
            if case .heartbeat = message { return .heartbeat(message) }
            return .malformed(.unknownType)
        case .failure(let problem): return .malformed(problem.reason)
        }
    }

    /// A tick's fields read from its frame; nil when it is not a well-formed tick within the limits.
    public static func tick(_ bytes: UnsafeRawBufferPointer) -> Values? {
        guard bytes.count <= FlowMessage.maximumSize else { return nil }
        if let fields = canonicalTick(bytes) { return values(fields, in: bytes) }
        guard case .success(.tick(let symbol, let bid, let ask, let timeMsc, let volume)) = FlowMessage.result(of: bytes) else { return nil }
        return (symbol, timeMsc, bid, ask, volume)
    }

    private static func values(_ fields: Fields, in bytes: UnsafeRawBufferPointer) -> Values? {
        guard let (time, bid, ask, volume) = numbers(fields, in: bytes) else { return nil }
        let symbol = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[fields.symbol]), as: UTF8.self)
        return (symbol, time, bid, ask, volume)
    }

    /// The numbers of a tick, when all are readable and within the limits; no allocation, so the
    /// bridge's thread can check every frame it relays.
    private static func numbers(_ fields: Fields, in bytes: UnsafeRawBufferPointer) -> (timeMsc: Int64, bid: Double, ask: Double, volume: Double)? {
        guard let bid = number(fields.bid, in: bytes), let ask = number(fields.ask, in: bytes), let time = number(fields.timeMsc, in: bytes) else { return nil }
        var volume = 0.0
        if let range = fields.volume {
            // A volume written but unreadable (too long, beyond a double) is malformed, not zero.
            guard let written = number(range, in: bytes) else { return nil }
            volume = written
        }
        guard TickLimits.problem(symbol: fields.symbol.count, bid: bid, ask: ask, timeMsc: time, volume: volume) == nil else { return nil }
        return (Int64(time), bid, ask, volume)
    }

    private static let tickPrefix = Array(#"{"type":"tick","symbol":""#.utf8)
    private static let bidKey = Array(#"","bid":"#.utf8)
    private static let askKey = Array(#","ask":"#.utf8)
    private static let timeKey = Array(#","time_msc":"#.utf8)
    private static let volumeKey = Array(#","volume":"#.utf8)

    /// The fields of a tick in the wire format's own order and spacing (type, symbol, bid, ask,
    /// time_msc, then optionally volume, no spaces), when the frame is exactly that and valid
    /// JSON: numbers as JSON writes them, a symbol of printable ASCII. Nil for any other frame.
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
        func number() -> Range<Int>? {
            guard let end = jsonNumberEnd(bytes, from: position, count: count) else { return nil }
            defer { position = end }
            return position..<end
        }
        guard expect(tickPrefix) else { return nil }
        let symbolStart = position
        // Printable ASCII other than the quote and the backslash; anything else (escapes,
        // control characters, other scripts) is left to the JSON decoder.
        while position < count, bytes[position] >= 0x20, bytes[position] < 0x7F, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\") {
            position += 1
        }
        let symbol = symbolStart..<position
        guard expect(bidKey), let bid = number(), expect(askKey), let ask = number(), expect(timeKey), let time = number() else { return nil }
        var fields = Fields(symbol: symbol, bid: bid, ask: ask, timeMsc: time, volume: nil)
        if expect(volumeKey) {
            guard let volume = number() else { return nil }
            fields.volume = volume
        }
        guard position == count - 1, bytes[position] == UInt8(ascii: "}") else { return nil }
        return fields
    }

    /// Where a JSON number starting at `start` ends: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    @inline(__always)
    static func jsonNumberEnd(_ bytes: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int? {
        var position = start
        func digits() -> Int {
            let first = position
            while position < count, bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
            return position - first
        }
        if position < count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < count else { return nil }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if digits() == 0 {
            return nil
        }
        if position < count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { return nil }
        }
        if position < count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { return nil }
        }
        return position
    }

    /// The number in `range`, parsed by strtod from a copy on the stack; nil unless finite.
    private static func number(_ range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> Double? {
        guard range.count < 40 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: range.count + 1) { text -> Double? in
            for index in range { text[index - range.lowerBound] = CChar(bitPattern: bytes[index]) }
            text[range.count] = 0
            var stop: UnsafeMutablePointer<CChar>?
            let value = strtod(text.baseAddress!, &stop)
            guard let stop, stop.pointee == 0, value.isFinite else { return nil }
            return value
        }
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

    /// A tick whose symbol is known by name (one the JSON decoder read).
    mutating func add(name: String) {
        if let index = names.firstIndex(of: name) {
            counts[index] += 1
        } else {
            names.append(name)
            counts.append(1)
        }
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
