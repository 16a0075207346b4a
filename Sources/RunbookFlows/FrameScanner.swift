/// Reads the few fields the telemetry bridge needs straight from a frame's bytes, without
/// decoding JSON, so that relaying stays cheap: the `type`, and for a tick its symbol and that
/// its prices and time are numbers.
struct FrameScanner {
    enum Verdict: Equatable {
        case tick(symbol: String)
        case heartbeat
        case malformed(MalformedReason)
    }

    static func scan(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        guard bytes.count <= FlowMessage.maximumSize else { return .malformed(.tooLarge) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return .malformed(.notJSON)
        }
        guard bytes[first] == UInt8(ascii: "{"), bytes[last] == UInt8(ascii: "}") else {
            return bytes[first] == UInt8(ascii: "{") || bytes[first] == UInt8(ascii: "[") || bytes[first] == UInt8(ascii: "\"")
                ? .malformed(bytes[first] == UInt8(ascii: "{") ? .notJSON : .notObject) : .malformed(.notJSON)
        }
        guard let type = string(after: "type", in: bytes) else {
            return value(after: "type", in: bytes) == nil ? .malformed(.missingType) : .malformed(.wrongType)
        }
        switch type {
        case "tick":
            guard let symbol = string(after: "symbol", in: bytes) else {
                return value(after: "symbol", in: bytes) == nil ? .malformed(.missingField) : .malformed(.wrongType)
            }
            for key in ["bid", "ask", "time_msc"] {
                guard let start = value(after: key, in: bytes) else { return .malformed(.missingField) }
                guard isNumberStart(bytes[start]) else { return .malformed(.wrongType) }
            }
            return .tick(symbol: symbol)
        case "heartbeat":
            return .heartbeat
        default:
            return .malformed(.unknownType)
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func isNumberStart(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// Where the value of `"key":` starts, if the key is there.
    static func value(after key: String, in bytes: UnsafeRawBufferPointer) -> Int? {
        let needle = Array("\"\(key)\"".utf8)
        guard bytes.count >= needle.count else { return nil }
        var index = 0
        while index <= bytes.count - needle.count {
            if bytes[index] == needle[0], (1..<needle.count).allSatisfy({ bytes[index + $0] == needle[$0] }) {
                var position = index + needle.count
                while position < bytes.count, isSpace(bytes[position]) { position += 1 }
                if position < bytes.count, bytes[position] == UInt8(ascii: ":") {
                    position += 1
                    while position < bytes.count, isSpace(bytes[position]) { position += 1 }
                    return position < bytes.count ? position : nil
                }
            }
            index += 1
        }
        return nil
    }

    /// The text value of `"key":"..."` (escapes not needed for the fields read here).
    static func string(after key: String, in bytes: UnsafeRawBufferPointer) -> String? {
        guard let start = value(after: key, in: bytes), bytes[start] == UInt8(ascii: "\"") else { return nil }
        var end = start + 1
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
            if bytes[end] == UInt8(ascii: "\\") { return nil }
            end += 1
        }
        guard end < bytes.count, end > start + 1 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<end]), as: UTF8.self)
    }
}
