import Foundation
import RunbookTestSupport
import Testing

/// `runbook resume`: a failed run goes on from its first step that did not succeed, with what the
/// steps before it gave; a step that was acting when its process was killed is named and runs
/// again only when a person confirms.
@Suite struct ResumeTests {
    /// Counts each step's runs in files, so that a step run twice shows.
    static let runbook = """
        name: deploy
        params:
          folder: {type: string}
        steps:
          - id: prepare
            shell:
              command: |
                echo x >> "$FOLDER/prepare.runs"
                echo "token=tok-$$" >> "$RUNBOOK_OUTPUT"
                echo "tok-$$" > "$FOLDER/token"
              env: {FOLDER: "${{ params.folder }}"}
            outputs: [token]
          - id: act
            shell:
              command: |
                echo x >> "$FOLDER/act.runs"
                [ -f "$FOLDER/go" ] || { echo "not ready: no $FOLDER/go" >&2; exit 1; }
                [ ! -f "$FOLDER/hang" ] || sleep 60
              env: {FOLDER: "${{ params.folder }}"}
          - id: finish
            shell:
              command: echo "$TOKEN" > "$FOLDER/finished"
              env: {FOLDER: "${{ params.folder }}", TOKEN: "${{ steps.prepare.outputs.token }}"}
        """

    func runs(_ cli: CLIHarness, _ step: String) -> Int {
        ((try? String(contentsOfFile: cli.path("work/\(step).runs"), encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test func aFailedRunGoesOnFromItsFailedStepWithTheOutputsOfTheStepsBefore() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("runbook.yaml", "")
        try cli.write("Runbooks/deploy.yaml", Self.runbook)
        try FileManager.default.createDirectory(atPath: cli.path("work"), withIntermediateDirectories: true)
        let first = try cli.run("run", "deploy", "--param", "folder=\(cli.path("work"))", "--json")
        #expect(first.status == 1)
        let failedRun = try #require(first.json["run_id"] as? Int, "\(first.stdout)")
        let token = try String(contentsOfFile: cli.path("work/token"), encoding: .utf8).trimmingCharacters(in: .newlines)

        // Nothing to confirm: the failed step ended.
        FileManager.default.createFile(atPath: cli.path("work/go"), contents: nil)
        let resumed = try cli.run("resume", "\(failedRun)")
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming run \(failedRun) of deploy from step 'act' (1 step(s) done before it)"), "\(resumed.stdout)")
        #expect(runs(cli, "prepare") == 1, "the step that succeeded is not run again")
        #expect(runs(cli, "act") == 2)
        #expect(try String(contentsOfFile: cli.path("work/finished"), encoding: .utf8).trimmingCharacters(in: .newlines) == token, "the later step sees the earlier run's output")

        // The new run names the one it resumes; resuming again is refused.
        let history = try cli.run("history", "--json").json["runs"] as? [[String: Any]] ?? []
        let newRun = try #require(history.first { $0["trigger"] as? String == "resume" }, "\(history)")
        #expect(newRun["trigger_source"] as? String == "run \(failedRun)" && newRun["status"] as? String == "succeeded", "\(newRun)")
        let shown = try cli.run("show", "\(newRun["id"] as? Int ?? 0)")
        #expect(shown.stdout.contains("trigger resume (run \(failedRun))"), "\(shown.stdout)")
        #expect(shown.stdout.contains("succeeded in run \(failedRun); not run again"), "\(shown.stdout)")
        let again = try cli.run("resume", "\(newRun["id"] as? Int ?? 0)")
        #expect(again.status == 2 && again.stderr.contains("is succeeded: only a failed, cancelled or interrupted run is resumed"), "\(again.stderr)")
        // The failed run was resumed: once is all, or what the resume did would be done again.
        let twice = try cli.run("resume", "\(failedRun)")
        #expect(twice.status == 2 && twice.stderr.contains("run \(failedRun) was resumed already, by run \(newRun["id"] as? Int ?? 0)"), "\(twice.stderr)")
        #expect(runs(cli, "act") == 2)
    }

    @Test func aStepActingWhenItsProcessWasKilledIsNamedAndRunsAgainOnlyWithConfirm() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("runbook.yaml", "")
        try cli.write("Runbooks/deploy.yaml", Self.runbook)
        try FileManager.default.createDirectory(atPath: cli.path("work"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: cli.path("work/go"), contents: nil)
        FileManager.default.createFile(atPath: cli.path("work/hang"), contents: nil)
        let running = try cli.start(["run", "deploy", "--param", "folder=\(cli.path("work"))"])
        #expect(await eventually { runs(cli, "act") == 1 }, "the side-effect step started")
        kill(running.0.processIdentifier, SIGKILL)
        running.0.waitUntilExit()

        let refused = try cli.run("resume", "1")
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("step 'act' (shell) of run 1 was acting when its process stopped") && refused.stderr.contains("may already have acted"), "\(refused.stderr)")
        #expect(runs(cli, "act") == 1, "refused: not run again")

        try FileManager.default.removeItem(atPath: cli.path("work/hang"))
        let confirmed = try cli.run("resume", "1", "--confirm")
        #expect(confirmed.status == 0, "\(confirmed.stdout)\(confirmed.stderr)")
        #expect(runs(cli, "prepare") == 1 && runs(cli, "act") == 2)
        #expect(FileManager.default.fileExists(atPath: cli.path("work/finished")))
    }
}
