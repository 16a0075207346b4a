import Foundation
import Logging
import RunbookCore
import RunbookExecutor
import RunbookModel
import RunbookSQLite
import RunbookSteps
import RunbookTestSupport
import Synchronization
import Testing

/// What the incidents and the outbox were given by the steps of a run.
final class RecordingEscalation: Escalating {
    let reasons = Mutex<[String]>([])
    let messages = Mutex<[String]>([])

    func escalate(runID: Int64, runbook: String, level: Int, reason: String) async throws -> String {
        reasons.withLock { $0.append(reason) }
        return "incident 1 at level \(level)"
    }

    func notify(runID: Int64, runbook: String, subject: String, message: String, severity: Severity, channels: [String]) async throws -> String {
        messages.withLock { $0.append("\(subject)\n\(message)") }
        return "queued for ops"
    }
}

/// Secrecy follows the value: whatever is made of a secret parameter is masked wherever it is
/// written down, while commands still receive the value itself.
@Suite struct SecretTests {
    static let parent = """
        name: parent
        params:
          pw: {type: string, secret: true}
          pin: {type: int, secret: true}
        steps:
          - id: hand_over
            run:
              runbook: child
              params: {password: "${{ params.pw }}", greeting: "hello ${{ params.pw }}", code: "${{ params.pin }}"}
          - id: derive
            log: "next code ${{ params.pin + 1 }}"
        """
    static let child = """
        name: child
        params:
          password: {type: string}
          greeting: {type: string}
          code: {type: string}
        steps:
          - id: use
            shell:
              command: printf '%s' "$PASSWORD" > seen-env.txt; printf '%s' "$RUNBOOK_PARAM_PASSWORD" > seen-param.txt; echo "using $PASSWORD"
              env: {PASSWORD: "${{ params.password }}"}
          - id: say
            log: "${{ params.greeting }}, code ${{ params.code }}"
        """

    /// Every byte of the records: the database and its write-ahead log.
    func recordBytes(_ harness: ExecutorHarness) throws -> Data {
        let path = harness.records.path
        return try [path, path + "-wal"].filter { FileManager.default.fileExists(atPath: $0) }.reduce(into: Data()) { $0.append(try Data(contentsOf: URL(fileURLWithPath: $1))) }
    }

    @Test func aSecretGivenToAChildRunIsMaskedInItsRecordsAndReachesItsCommand() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add(Self.parent)
        try harness.add(Self.child)
        let pw = "hunter2-\(UUID().uuidString)"
        let report = try await harness.run("parent", params: ["pw": pw, "pin": "4711"])
        #expect(report.status == .succeeded, "\(report)")

        let parent = try #require(try await harness.records.runs.run(id: report.runID))
        #expect(parent.parameters == ["pw": "***", "pin": "***"])
        let child = try #require(try await harness.records.runs.children(of: report.runID).first)
        #expect(child.parameters == ["password": "***", "greeting": "hello ***", "code": "***"])
        let childSteps = try await harness.records.runs.attempts(runID: child.id)
        #expect(childSteps.map(\.output) == ["using ***\n", "hello ***, code ***"])
        // A value computed from the pin is as secret as the pin.
        let parentSteps = try await harness.records.runs.attempts(runID: report.runID)
        #expect(parentSteps.last?.output == "next code ***")

        // The command had the value itself, by its variable and as the child's parameter.
        #expect(try String(contentsOfFile: harness.path("seen-env.txt"), encoding: .utf8) == pw)
        #expect(try String(contentsOfFile: harness.path("seen-param.txt"), encoding: .utf8) == pw)
        let bytes = try recordBytes(harness)
        for secret in [pw, "4711", "4712"] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) is in the records")
        }
    }

    @Test func escalateAndNotifyMaskTheSecretInTheLogAndInWhatTheyQueue() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        let runbook = try harness.add("""
            name: alarm
            params:
              pw: {type: string, secret: true}
            steps:
              - id: tell
                notify: {subject: "login ${{ params.pw }}", message: "the password ${{ params.pw }} was refused"}
              - id: raise
                escalate: {level: 2, reason: "login with ${{ params.pw }} refused"}
            """)
        let pw = "hunter2-\(UUID().uuidString)"
        let captured = CapturedLog()
        let escalation = RecordingEscalation()
        var executor = harness.executor()
        executor.logger = Logger(label: "test") { _ in captured }
        executor.services = EngineServices(escalation: escalation)
        let report = await executor.run(runbook, params: try ParamBinding.bind(["pw": pw], to: runbook), trigger: .manual)
        #expect(report.status == .failed)

        #expect(escalation.messages.withLock { $0 } == ["login ***\nthe password *** was refused"])
        #expect(escalation.reasons.withLock { $0 } == ["login with *** refused"])
        #expect(captured.messages.contains("escalated to level 2: login with *** refused"), "\(captured.messages)")
        #expect(!captured.messages.joined().contains(pw))
        #expect(report.error?.contains(pw) == false)
        #expect(try recordBytes(harness).range(of: Data(pw.utf8)) == nil)
    }

    @Test func theRecordsAndTheTickStoreAreCreatedForTheirOwnerAlone() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("name: one\nsteps:\n  - id: a\n    log: hi\n")
        _ = try await harness.run("one")
        let ticks = try SQLiteTickStore(path: harness.path("ticks.db"))
        // Both still open, so that their -wal and -shm files are there.
        try withExtendedLifetime(ticks) {
            for path in [harness.records.path, ticks.path].flatMap({ [$0, $0 + "-wal", $0 + "-shm"] }) {
                let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
                #expect(mode == 0o600, "\(path) has mode \(String(mode, radix: 8))")
            }
        }
    }

    @Test func aRecordsFileOthersCouldReadIsNarrowedWhenOpened() async throws {
        let harness = try ExecutorHarness()
        defer { harness.remove() }
        let path = harness.path("old.db")
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644]))
        _ = try RecordsDatabase(path: path)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
    }
}

@Suite struct URLPasswordTests {
    @Test func aPasswordInAURLIsMaskedWhereverTheRunWritesIt() {
        let secrets = Secrets()
        secrets.addURLPasswords(in: "db: postgresql://trader:s3cret-Pa55@db.example:5432/ticks and http://u:PASSWORD@x")
        #expect(secrets.mask("connect postgresql://trader:s3cret-Pa55@db.example failed; s3cret-Pa55") == "connect postgresql://trader:***@db.example failed; ***")
        #expect(secrets.mask("http://u:PASSWORD@x") == "http://u:PASSWORD@x", "the placeholder of advice is no secret")
        #expect("postgresql://a:b@c/d, postgres://x:y@z".maskingURLPasswords == "postgresql://a:***@c/d, postgres://x:***@z")
        #expect("postgresql://a:p@ss@c/d".maskingURLPasswords == "postgresql://a:***@c/d", "a password with an @ of its own")
        // What a shell step inherits and may print: the store URL's password is a secret of every run.
        #expect(Secrets.forRun(environment: ["RUNBOOK_STORE_URL": "postgresql://ticks:Hunter-2@db/ticks"]).mask("env: Hunter-2") == "env: ***")
    }
}
