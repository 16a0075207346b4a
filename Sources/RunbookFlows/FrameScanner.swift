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

    // The quoted keys, made once: the hot path allocates nothing.
    private static let typeKey = Array("\"type\"".utf8)
    private static let symbolKey = Array("\"symbol\"".utf8)
    private static let numberKeys = ["\"bid\"", "\"ask\"", "\"time_msc\""].map { Array($0.utf8) }
    private static let tickType = Array("tick".utf8)
    private static let heartbeatType = Array("heartbeat".utf8)

    static func scan(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        guard bytes.count <= FlowMessage.maximumSize else { return .malformed(.tooLarge) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return .malformed(.notJSON)
        }
        guard bytes[first] == UInt8(ascii: "{"), bytes[last] == UInt8(ascii: "}") else {
            return bytes[first] == UInt8(ascii: "{") || bytes[first] == UInt8(ascii: "[") || bytes[first] == UInt8(ascii: "\"")
                ? .malformed(bytes[first] == UInt8(ascii: "{") ? .notJSON : .notObject) : .malformed(.notJSON)
        }
        guard let type = string(after: typeKey, in: bytes) else {
            return value(after: typeKey, in: bytes) == nil ? .malformed(.missingType) : .malformed(.wrongType)
        }
        if equal(bytes, type, tickType) {
            guard let symbol = string(after: symbolKey, in: bytes), !symbol.isEmpty else {
                return value(after: symbolKey, in: bytes) == nil ? .malformed(.missingField) : .malformed(.wrongType)
            }
            for key in numberKeys {
                guard let start = value(after: key, in: bytes) else { return .malformed(.missingField) }
                guard isNumberStart(bytes[start]) else { return .malformed(.wrongType) }
            }
            return .tick(symbol: symbol)
        }
        if equal(bytes, type, heartbeatType) { return .heartbeat }
        return .malformed(.unknownType)
    }

    private static let volumeKey = Array("\"volume\"".utf8)

    /// A tick's fields read straight from its frame; nil when it is not a well-formed tick.
    public static func tick(_ bytes: UnsafeRawBufferPointer) -> (symbol: String, timeMsc: Int64, bid: Double, ask: Double, volume: Double)? {
        guard case .tick(let symbolRange) = scan(bytes),
              let bid = number(after: numberKeys[0], in: bytes), let ask = number(after: numberKeys[1], in: bytes),
              let time = number(after: numberKeys[2], in: bytes), time.rounded() == time
        else { return nil }
        let symbol = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[symbolRange]), as: UTF8.self)
        return (symbol, Int64(time), bid, ask, number(after: volumeKey, in: bytes) ?? 0)
    }

    private static func number(after key: [UInt8], in bytes: UnsafeRawBufferPointer) -> Double? {
        guard let start = value(after: key, in: bytes) else { return nil }
        var end = start
        while end < bytes.count, "0123456789+-.eE".utf8.contains(bytes[end]) { end += 1 }
        guard end > start, end - start < 40 else { return nil }
        var text = [CChar](repeating: 0, count: end - start + 1)
        for index in start..<end { text[index - start] = CChar(bitPattern: bytes[index]) }
        return text.withUnsafeBufferPointer { buffer -> Double? in
            var stop: UnsafeMutablePointer<CChar>?
            let value = strtod(buffer.baseAddress!, &stop)
            guard let stop, stop.pointee == 0, value.isFinite else { return nil }
            return value
        }
    }

    private static func equal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ word: [UInt8]) -> Bool {
        range.count == word.count && zip(range, word).allSatisfy { bytes[$0] == $1 }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func isNumberStart(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// Where the value of a quoted key (`"key"`) starts, if the key is there.
    static func value(after needle: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress, bytes.count >= needle.count else { return nil }
        var from = 0
        while from <= bytes.count - needle.count {
            // memchr finds the opening quote, memcmp checks the rest of the key.
            guard let found = memchr(base + from, Int32(needle[0]), bytes.count - from - needle.count + 1) else { return nil }
            let index = base.distance(to: UnsafeRawPointer(found))
            guard needle.withUnsafeBytes({ memcmp(found, $0.baseAddress!, needle.count) }) == 0 else {
                from = index + 1
                continue
            }
            var position = index + needle.count
            while position < bytes.count, isSpace(bytes[position]) { position += 1 }
            if position < bytes.count, bytes[position] == UInt8(ascii: ":") {
                position += 1
                while position < bytes.count, isSpace(bytes[position]) { position += 1 }
                return position < bytes.count ? position : nil
            }
            from = index + 1
        }
        return nil
    }

    /// Where the text of `"key":"..."` lies (escapes not needed for the fields read here).
    static func string(after needle: [UInt8], in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        guard let start = value(after: needle, in: bytes), bytes[start] == UInt8(ascii: "\"") else { return nil }
        var end = start + 1
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
            if bytes[end] == UInt8(ascii: "\\") { return nil }
            end += 1
        }
        guard end < bytes.count else { return nil }
        return (start + 1)..<end
    }
}

/// Ticks per symbol within one batch, counted from the frames' bytes without making strings.
struct SymbolTally {
    private var symbols: [[UInt8]] = []
    private var counts: [Int] = []

    mutating func add(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        for index in symbols.indices where symbols[index].count == range.count {
            if zip(symbols[index], range).allSatisfy({ $0 == bytes[$1] }) {
                counts[index] += 1
                return
            }
        }
        symbols.append(Array(UnsafeRawBufferPointer(rebasing: bytes[range])))
        counts.append(1)
    }

    var totals: [String: Int] {
        var totals: [String: Int] = [:]
        for (symbol, count) in zip(symbols, counts) { totals[String(decoding: symbol, as: UTF8.self), default: 0] += count }
        return totals
    }
}
