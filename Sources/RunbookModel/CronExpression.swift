/// A five-field cron expression: minute, hour, day of month, month, day of week, each a `*`, a
/// value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a list of these; months and days of
/// the week also by name (`JAN`, `MON`); Sunday is 0 or 7. `@hourly`, `@daily` (`@midnight`),
/// `@weekly`, `@monthly` and `@yearly` (`@annually`) stand for their usual expressions.
///
/// The day rule is cron's: when the day-of-month and day-of-week fields both restrict the day
/// (neither starts with `*`), a day matching either runs; otherwise a day must match both.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let text: String
    /// Allowed values as bit sets: bit n set when n is allowed.
    public let minutes: UInt64
    public let hours: UInt64
    public let daysOfMonth: UInt64
    public let months: UInt64
    /// Sunday is bit 0.
    public let daysOfWeek: UInt64
    /// Whether a day must match either day field (both restrict) rather than both.
    public let eitherDay: Bool

    public var description: String { text }

    /// A problem in an expression: where it is (characters into the text) and what to do.
    public struct ParseError: Error, Sendable, Equatable {
        public var offset: Int
        public var message: String
    }

    static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    private struct Field {
        let name: String
        let range: ClosedRange<Int>
        let names: [String]
        /// The first value `names` stands for.
        let firstNamed: Int
        let example: String
        /// A step that fits the field, for the message about one that does not.
        let step: Int
    }

    private static let fields = [
        Field(name: "minute", range: 0...59, names: [], firstNamed: 0, example: "0, 15, */5 or 0-29", step: 15),
        Field(name: "hour", range: 0...23, names: [], firstNamed: 0, example: "9, 9-17 or */2", step: 6),
        Field(name: "day of month", range: 1...31, names: [], firstNamed: 1, example: "1, 15 or 1-7", step: 7),
        Field(name: "month", range: 1...12, names: monthAbbreviations, firstNamed: 1, example: "1, JAN or JAN-MAR", step: 3),
        // 7 is Sunday too; folded into 0 below.
        Field(name: "day of week", range: 0...7, names: weekdayAbbreviations, firstNamed: 0, example: "1, MON or MON-FRI", step: 2),
    ]

    /// Parses an expression; the error says which field is wrong and how to write it.
    public static func parse(_ text: String) throws(ParseError) -> CronExpression {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("@") {
            guard let expanded = macros[trimmed.lowercased()] else {
                let known = macros.keys.sorted().joined(separator: ", ")
                throw ParseError(offset: text.count - text.drop { $0 == " " }.count, message: "unknown cron shorthand '\(trimmed)'\(Suggestion.hint(for: trimmed, in: macros.keys)); use one of \(known), or five fields")
            }
            return try parse(fieldsOf: expanded, text: text, offsetOf: { _ in 0 })
        }
        return try parse(fieldsOf: text, text: text, offsetOf: { $0 })
    }

    private static func parse(fieldsOf source: String, text: String, offsetOf: (Int) -> Int) throws(ParseError) -> CronExpression {
        var parts: [(text: Substring, offset: Int)] = []
        var index = source.startIndex
        var offset = 0
        while index < source.endIndex {
            if source[index] == " " || source[index] == "\t" {
                index = source.index(after: index)
                offset += 1
                continue
            }
            let end = source[index...].firstIndex { $0 == " " || $0 == "\t" } ?? source.endIndex
            parts.append((source[index..<end], offset))
            offset += source.distance(from: index, to: end)
            index = end
        }
        guard parts.count == 5 else {
            throw ParseError(
                offset: parts.count > 5 ? offsetOf(parts[5].offset) : 0,
                message: "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this has \(parts.count): write it like \"30 2 * * MON-FRI\""
            )
        }
        var sets: [UInt64] = []
        for (field, part) in zip(fields, parts) {
            sets.append(try parse(part.text, field, offset: offsetOf(part.offset)))
        }
        let daysOfWeek = (sets[4] & ~(1 << 7)) | ((sets[4] >> 7) & 1)
        let expression = CronExpression(
            text: text, minutes: sets[0], hours: sets[1], daysOfMonth: sets[2], months: sets[3], daysOfWeek: daysOfWeek,
            eitherDay: !parts[2].text.hasPrefix("*") && !parts[4].text.hasPrefix("*")
        )
        if let problem = expression.neverFires { throw ParseError(offset: offsetOf(parts[2].offset), message: problem) }
        return expression
    }

    private static func parse(_ text: Substring, _ field: Field, offset: Int) throws(ParseError) -> UInt64 {
        var set: UInt64 = 0
        var itemOffset = offset
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            set |= try parseItem(item, field, offset: itemOffset)
            itemOffset += item.count + 1
        }
        return set
    }

    private static func parseItem(_ item: Substring, _ field: Field, offset: Int) throws(ParseError) -> UInt64 {
        guard !item.isEmpty else {
            throw ParseError(offset: offset, message: "empty value in the \(field.name) field: write it like \(field.example)")
        }
        let pieces = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var low = field.range.lowerBound
        var high = field.range.upperBound
        if field.name == "day of week" { high = 6 }
        let range = pieces[0]
        if range != "*" {
            let bounds = range.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            low = try value(bounds[0], field, offset: offset)
            if bounds.count == 2 {
                high = try value(bounds[1], field, offset: offset + bounds[0].count + 1)
                // SUN ends a range as 7, so that FRI-SUN reads as written.
                if field.name == "day of week", high == 0, bounds[1].uppercased() == "SUN" { high = 7 }
                if high < low {
                    throw ParseError(offset: offset, message: "the range \(range) in the \(field.name) field runs backwards: write the lower end first, or a list such as \(bounds[0])-\(field.range.upperBound),\(field.range.lowerBound)-\(bounds[1])")
                }
            } else if pieces.count == 1 {
                high = low
            }
        }
        var step = 1
        if pieces.count == 2 {
            let stepOffset = offset + range.count + 1
            guard let number = Int(pieces[1]), number >= 1, number <= field.range.upperBound else {
                throw ParseError(offset: stepOffset, message: "'\(pieces[1])' is not a step for the \(field.name) field: write a whole number from 1 to \(field.range.upperBound), as in */\(field.step)")
            }
            step = number
        }
        var set: UInt64 = 0
        for value in stride(from: low, through: high, by: step) { set |= 1 << UInt64(value) }
        if set == 0 { throw ParseError(offset: offset, message: "'\(item)' selects no \(field.name): write it like \(field.example)") }
        return set
    }

    private static func value(_ text: Substring, _ field: Field, offset: Int) throws(ParseError) -> Int {
        if let number = Int(text), field.range.contains(number) { return number }
        if let index = field.names.firstIndex(of: text.uppercased()) { return field.firstNamed + index }
        let names = field.names.isEmpty ? "" : " or a name (\(field.names.first!)-\(field.names.last!))"
        let hint = field.names.isEmpty ? "" : Suggestion.hint(for: text.uppercased(), in: field.names)
        throw ParseError(offset: offset, message: "'\(text)' is not a valid \(field.name)\(hint): write a number from \(field.range.lowerBound) to \(field.range.upperBound)\(names), as in \(field.example)")
    }

    /// Why the expression can never fire (February 30th, April 31st), if it cannot.
    var neverFires: String? {
        // Only when the day of week cannot widen the days: both rules need the day of month then.
        guard !eitherDay else { return nil }
        let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let chosen = (1...12).filter { months & (1 << UInt64($0)) != 0 }
        if chosen.contains(where: { month in (1...longest[month - 1]).contains { daysOfMonth & (1 << UInt64($0)) != 0 } }) { return nil }
        let days = (1...31).filter { daysOfMonth & (1 << UInt64($0)) != 0 }.map(String.init).joined(separator: ", ")
        let names = chosen.map { Self.monthNames[$0 - 1] }.joined(separator: ", ")
        let verdict = chosen.count == 1 ? "\(names) has no day \(days)" : "none of \(names) has a day \(days)"
        return "'\(text)' never fires: \(verdict); choose days that exist in the months given"
    }

    /// Whether a day matches the two day fields under cron's rule.
    public func matchesDay(_ day: Int, weekday: Int) -> Bool {
        let byMonth = daysOfMonth & (1 << UInt64(day)) != 0
        let byWeek = daysOfWeek & (1 << UInt64(weekday)) != 0
        return eitherDay ? byMonth || byWeek : byMonth && byWeek
    }
}

extension CronExpression {
    static let monthAbbreviations = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let weekdayAbbreviations = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
}

import Foundation
