/// Durations as operators write them: `250ms`, `30s`, `5m`, `1h30m`, `2d`, `1w`.
public enum DurationText {
    private static let units: [(suffix: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800),
    ]

    /// Parses a duration; nil when the text is not one.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let suffix = rest.prefix { $0.isLetter }
            guard let unit = units.first(where: { $0.suffix == suffix }) else { return nil }
            rest = rest.dropFirst(suffix.count)
            total += value * unit.seconds
        }
        return seconds(total)
    }

    /// The longest duration read: a hundred years (anything longer is a typing error, and would
    /// not fit the millisecond counts durations are kept in).
    public static let longest = Duration.seconds(100 * 365 * 86_400)

    /// A number of seconds as a duration; nil unless it is from 0 up to `longest`.
    public static func seconds(_ seconds: Double) -> Duration? {
        guard seconds >= 0, seconds <= Double(longest.components.seconds) else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// The compact form of a duration, the way `parse` reads it back.
    public static func format(_ duration: Duration) -> String {
        let signed = duration.milliseconds
        if signed == 0 { return "0s" }
        var text = signed < 0 ? "-" : ""
        var milliseconds = signed.magnitude
        for (suffix, seconds) in units.reversed() where suffix != "w" {
            let size = UInt64(seconds * 1000)
            if milliseconds >= size {
                text += "\(milliseconds / size)\(suffix)"
                milliseconds %= size
            }
        }
        return text
    }
}

extension Duration {
    /// Whole milliseconds, truncated; a duration beyond what Int64 milliseconds hold (about 292
    /// million years) gives the nearest that does.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, carry) = whole.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return carry ? (whole < 0 ? .min : .max) : sum
    }

    /// Seconds as a floating-point number.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

import Foundation
