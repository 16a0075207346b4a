/// Sizes as operators write them: `512`, `10KB`, `500MB`, `1GB` (powers of 1024, as `du -h` shows).
public enum ByteSize {
    private static let units: [String: Int64] = [
        "": 1, "B": 1, "KB": 1 << 10, "K": 1 << 10, "KIB": 1 << 10,
        "MB": 1 << 20, "M": 1 << 20, "MIB": 1 << 20,
        "GB": 1 << 30, "G": 1 << 30, "GIB": 1 << 30,
        "TB": 1 << 40, "T": 1 << 40, "TIB": 1 << 40,
    ]

    /// Parses a size in bytes; nil when the text is not one.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces).uppercased()
        guard let value = Double(number), let multiplier = units[unit] else { return nil }
        // A size past what 64 bits count (about 8 EiB) is not a size.
        return Int64(exactly: (value * Double(multiplier)).rounded(.down))
    }
}

import Foundation
