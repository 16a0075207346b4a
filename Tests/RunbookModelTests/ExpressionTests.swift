import RunbookModel
import Testing

@Suite struct ExpressionTests {
    let values: [String: Value] = [
        "params.target": .string("ea-01"),
        "params.limit": .number(300),
        "steps.check_age.outputs.age": .string("412"),
        "steps.check_age.status": .string("succeeded"),
        "params.enabled": .bool(true),
    ]

    func evaluate(_ text: String) throws -> Value {
        let values = self.values
        return try ExpressionEvaluator { values[$0.description] }.evaluate(try ExpressionParser.parse(text))
    }

    @Test(arguments: [
        ("steps.check_age.outputs.age > params.limit", true),
        ("steps.check_age.outputs.age > 5m", true),
        ("steps.check_age.outputs.age < 10m and params.enabled", true),
        ("not params.enabled || params.target == 'ea-01'", true),
        ("params.target != \"ea-01\"", false),
        ("1 + 2 * 3 == 7", true),
        ("(1 + 2) * 3 == 9", true),
        ("-2 < -1", true),
        ("90s == 1m30s", true),
        ("steps.check_age.status == 'succeeded' && !(params.limit >= 301)", true),
        ("params.limit / 60 == 5", true),
        ("false or null", false),
    ])
    func evaluatesConditions(text: String, expected: Bool) throws {
        #expect(try evaluate(text).isTruthy == expected, "\(text)")
    }

    @Test func booleansEqualOnlyTheirOwnNumbers() throws {
        #expect(try evaluate("true == 1") == .bool(true))
        #expect(try evaluate("true == 5") == .bool(false))
        #expect(try evaluate("false == 0") == .bool(true))
        #expect(try evaluate("params.enabled == 'true'") == .bool(true))
    }

    @Test func durationArithmeticKeepsDurationsEitherWay() throws {
        #expect(try evaluate("5m + 2") == .duration(.seconds(302)))
        #expect(try evaluate("2 + 5m") == .duration(.seconds(302)))
    }

    /// A step's output is text from outside the engine: a huge or non-finite number added to a
    /// duration is an error of that condition, not the end of the process.
    @Test(arguments: ["1e300", "-1e300", "nan", "inf", "9223372036854775807"])
    func durationArithmeticOnAHugeOutputIsAnError(output: String) throws {
        let values: [String: Value] = ["steps.x.outputs.n": .string(output)]
        let evaluator = ExpressionEvaluator { values[$0.description] }
        let error = #expect(throws: ExpressionEvaluator.EvaluationError.self) { try evaluator.evaluate(try ExpressionParser.parse("30s + steps.x.outputs.n")) }
        #expect(error?.description.contains("beyond 100 years") == true, "\(output): \(String(describing: error))")
    }

    /// Formatting never traps, even for a duration past what milliseconds in an Int64 hold.
    @Test func anyDurationFormats() {
        #expect(DurationText.format(.seconds(90)) == "1m30s")
        #expect(DurationText.format(.zero - .seconds(90)) == "-1m30s")
        #expect(DurationText.format(.zero - .seconds(Int64.max)).hasPrefix("-"))
        #expect(!DurationText.format(.seconds(Int64.max)).isEmpty)
    }

    @Test func textAndNumbersCompareAsOperatorsExpect() throws {
        #expect(try evaluate("steps.check_age.outputs.age == 412") == .bool(true))
        #expect(try evaluate("'abc' + 'def'") == .string("abcdef"))
    }

    @Test func referenceWithoutValueIsAnError() {
        #expect(throws: ExpressionEvaluator.EvaluationError.self) { try evaluate("params.missing > 1") }
    }

    @Test func comparingTextWithANumberIsAnError() throws {
        let error = #expect(throws: ExpressionEvaluator.EvaluationError.self) { try evaluate("params.target > 3") }
        #expect(error?.description.contains("needs numbers") == true)
    }

    @Test(arguments: [
        ("a ==", 4, "expression ends where a value was expected"),
        ("a = 1", 2, "'=' is not an operator: use '==' to compare"),
        ("(a == 1", 7, "expected ')' to close the '(' at column 1"),
        ("'open", 0, "string is not closed: add '"),
        ("5xs > 1", 0, "'5xs' is not a number or a duration (units: ms, s, m, h, d, w)"),
        ("a == 1 b", 7, "unexpected name 'b' in expression"),
    ])
    func syntaxErrorsSayWhereAndWhat(text: String, offset: Int, message: String) {
        let error = #expect(throws: ExpressionParser.SyntaxError.self) { try ExpressionParser.parse(text) }
        #expect(error?.offset == offset)
        #expect(error?.message == message)
    }

    @Test func templateKeepsTheTypeOfALoneExpression() throws {
        let evaluator = ExpressionEvaluator { [values] in values[$0.description] }
        #expect(try Template.parse("${{ params.limit }}").resolve(with: evaluator) == .number(300))
        #expect(try Template.parse("EA ${{ params.target }} is ${{ steps.check_age.outputs.age }}s old").resolve(with: evaluator) == .string("EA ea-01 is 412s old"))
        #expect(try Template.parse("plain").resolve(with: evaluator) == .string("plain"))
    }

    @Test func unclosedTemplateIsAnError() {
        let error = #expect(throws: ExpressionParser.SyntaxError.self) { try Template.parse("x ${{ params.a") }
        #expect(error?.offset == 2)
    }
}

@Suite struct DurationAndSizeTests {
    @Test(arguments: [("250ms", 250), ("30s", 30_000), ("5m", 300_000), ("1h30m", 5_400_000), ("2d", 172_800_000), ("1w", 604_800_000), ("1.5s", 1500)])
    func parsesDurations(text: String, milliseconds: Int64) {
        #expect(DurationText.parse(text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "5", "5x", "m5", "1h 30"])
    func rejectsWhatIsNotADuration(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func formatsDurationsTheWayTheyAreRead() {
        for text in ["250ms", "30s", "5m", "1h30m", "2d"] {
            #expect(DurationText.format(DurationText.parse(text)!) == text)
        }
    }

    @Test func parsesSizes() {
        #expect(ByteSize.parse("1GB") == 1 << 30)
        #expect(ByteSize.parse("500MB") == 500 << 20)
        #expect(ByteSize.parse("512") == 512)
        #expect(ByteSize.parse("lots") == nil)
    }

    @Test func backoffDoublesUpToTheCap() {
        let policy = RetryPolicy(count: 5, initialDelay: .seconds(1), maxDelay: .seconds(5))
        #expect((2...6).map { policy.delay(beforeAttempt: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
    }
}
