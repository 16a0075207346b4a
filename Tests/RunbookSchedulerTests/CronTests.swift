import Foundation
import RunbookModel
import RunbookScheduler
import Testing

/// Instants written as ISO 8601 with an offset, as `runbook schedule next` prints them.
enum Instant {
    static func at(_ text: String) -> Date {
        guard let date = ISO8601DateFormatter().date(from: text) else { fatalError("not an ISO 8601 instant: \(text)") }
        return date
    }

    static func text(_ date: Date, in zone: String) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: zone)!
        return formatter.string(from: date)
    }
}

/// The next `count` fires of `expression` in `zone` after `from`, as local ISO 8601 text.
func fires(_ expression: String, zone: String = "UTC", from: String, count: Int) throws -> [String] {
    let times = FireTimes(timing: .cron(try CronExpression.parse(expression), TimeZone(identifier: zone)!))
    return times.upcoming(after: Instant.at(from), count: count).map { Instant.text($0, in: zone) }
}

@Suite struct CronSemanticsTests {
    // 2026-01-01 is a Thursday.
    @Test(arguments: [
        ("*/15 * * * *", "2026-01-01T10:07:00Z", ["2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z", "2026-01-01T10:45:00Z", "2026-01-01T11:00:00Z"]),
        ("0 9-17/4 * * *", "2026-01-01T00:00:00Z", ["2026-01-01T09:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"]),
        ("5,35 8,20 * * *", "2026-01-01T08:05:00Z", ["2026-01-01T08:35:00Z", "2026-01-01T20:05:00Z", "2026-01-01T20:35:00Z", "2026-01-02T08:05:00Z"]),
        ("10/20 3 * * *", "2026-01-01T00:00:00Z", ["2026-01-01T03:10:00Z", "2026-01-01T03:30:00Z", "2026-01-01T03:50:00Z", "2026-01-02T03:10:00Z"]),
        ("0 0 * * MON-FRI", "2026-01-01T12:00:00Z", ["2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z"]),
        ("0 6 * * sat", "2026-01-01T00:00:00Z", ["2026-01-03T06:00:00Z", "2026-01-10T06:00:00Z", "2026-01-17T06:00:00Z", "2026-01-24T06:00:00Z"]),
        ("0 0 * * 7", "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z"]),
        ("0 0 * * FRI-SUN", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"]),
        ("0 12 1 JAN,JUL *", "2026-01-01T12:00:00Z", ["2026-07-01T12:00:00Z", "2027-01-01T12:00:00Z", "2027-07-01T12:00:00Z", "2028-01-01T12:00:00Z"]),
        ("0 0 31 * *", "2026-01-01T00:00:00Z", ["2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"]),
        ("0 0 29 2 *", "2026-01-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z", "2040-02-29T00:00:00Z"]),
        // Both day fields restricted: the 13th or any Friday.
        ("0 0 13 * FRI", "2026-02-01T00:00:00Z", ["2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z", "2026-02-27T00:00:00Z"]),
        ("0 0 1,15 * MON", "2026-06-01T00:00:00Z", ["2026-06-08T00:00:00Z", "2026-06-15T00:00:00Z", "2026-06-22T00:00:00Z", "2026-06-29T00:00:00Z"]),
        // A day field starting with * does not widen: odd days that are Mondays.
        ("0 0 */2 * MON", "2026-06-01T00:00:00Z", ["2026-06-15T00:00:00Z", "2026-06-29T00:00:00Z", "2026-07-13T00:00:00Z", "2026-07-27T00:00:00Z"]),
        ("0 0 1 * *", "2026-12-15T00:00:00Z", ["2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z"]),
        ("@hourly", "2026-01-01T10:30:00Z", ["2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T14:00:00Z"]),
        ("@weekly", "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z"]),
        ("59 23 31 12 *", "2026-12-31T23:59:00Z", ["2027-12-31T23:59:00Z", "2028-12-31T23:59:00Z", "2029-12-31T23:59:00Z", "2030-12-31T23:59:00Z"]),
    ])
    func firesWhereCronWould(expression: String, from: String, expected: [String]) throws {
        #expect(try fires(expression, from: from, count: 4) == expected)
    }

    @Test func aFireIsStrictlyAfterTheInstantAskedFrom() throws {
        #expect(try fires("0 10 * * *", from: "2026-01-01T10:00:00Z", count: 1) == ["2026-01-02T10:00:00Z"])
        #expect(try fires("0 10 * * *", from: "2026-01-01T09:59:59Z", count: 1) == ["2026-01-01T10:00:00Z"])
    }
}
