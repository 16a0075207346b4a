import Foundation
import RunbookApp
import RunbookModel
import Testing

@Suite struct ValidationTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    let loader = RunbookLoader(catalog: Catalog.steps)

    func diagnostics(_ text: String, file: String = "runbook.yaml") -> [String] {
        let (_, diagnostics) = loader.read(text: text, file: file)
        return diagnostics.map(\.description)
    }

    @Test func everyMistakeIsReportedAtOnceWithFileLineAndColumn() throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("broken.yaml"), encoding: .utf8)
        let expected = try String(contentsOf: Self.fixtures.appendingPathComponent("broken.expected"), encoding: .utf8)
        let actual = diagnostics(text, file: "broken.yaml").joined(separator: "\n") + "\n"
        #expect(actual == expected)
    }

    @Test func yamlSyntaxErrorsNameTheirPlace() {
        let found = diagnostics("name: x\nsteps:\n  - id: a\n    log: \"unclosed\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("runbook.yaml:5:1: error: YAML syntax:") == true)
    }

    /// YAML ends a line at a carriage return as at a line feed: the line an error names is the
    /// line it shows, whatever the file's line endings (found by fuzzing).
    @Test(arguments: ["\r", "\r\n", "\n"])
    func theLineShownIsTheLineNamedWhateverTheLineEndings(ending: String) {
        let text = ["name: x", "steps:", "  - id: a", "    log: {message: hi, colour: red}", ""].joined(separator: ending)
        let found = diagnostics(text)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("runbook.yaml:4:") == true, "\(found)")
        #expect(found.first?.contains("\n    log: {message: hi, colour: red}\n") == true, "\(found)")
    }

    @Test func duplicateKeysAreErrors() {
        let found = diagnostics("name: x\nname: y\nsteps:\n  - id: a\n    log: hi\n")
        #expect(found.first?.contains("duplicate key 'name'") == true)
    }

    @Test func aCleanRunbookLoads() throws {
        let runbook = try loader.load(text: """
            name: ok
            params:
              target: {type: string, default: ea-01}
            steps:
              - id: check_age
                shell:
                  command: echo "age=7" >> "$RUNBOOK_OUTPUT"
                outputs: [age]
              - id: report
                when: steps.check_age.outputs.age < 2m
                log: "${{ params.target }} is ${{ steps.check_age.outputs.age }}s old"
            """, file: "ok.yaml")
        #expect(runbook.steps.map(\.id) == ["check_age", "report"])
        #expect(runbook.steps[1].when?.text == "steps.check_age.outputs.age < 2m")
        #expect(runbook.contentHash.count == 16)
    }

    @Test func shorthandAndFullFormsAreTheSame() throws {
        let short = try loader.load(text: "name: a\nsteps:\n  - id: s\n    shell: df -h\n", file: "a.yaml")
        let long = try loader.load(text: "name: a\nsteps:\n  - id: s\n    shell:\n      command: df -h\n", file: "a.yaml")
        guard case .template(let shortForm, _)? = short.steps[0].inputs["command"], case .template(let longForm, _)? = long.steps[0].inputs["command"] else {
            Issue.record("command is not a template")
            return
        }
        #expect(shortForm == longForm)
        #expect(shortForm.literalText == "df -h")
    }

    @Test func writtenOutValuesAreCheckedAsTheStepWouldAtRunTime() {
        let found = diagnostics("name: x\nsteps:\n  - id: a\n    prune: {path: logs}\n  - id: b\n    log: {message: hi, level: loud}\n")
        #expect(found.count == 2)
        #expect(found[0].hasPrefix("runbook.yaml:4:5: error: 'prune' of step 'a': prune needs older_than, keep_last or both"))
        #expect(found[1].hasPrefix("runbook.yaml:6:5: error: 'log' of step 'b': log level 'loud' is not one of"))
        #expect(diagnostics("name: x\nparams: {lvl: {default: loud}}\nsteps:\n  - id: b\n    log: {message: hi, level: '${{ params.lvl }}'}\n").isEmpty)
    }

    @Test func pollIsOnlyForTheConditionOfAWaitUntilThatPolls() {
        let ok = "name: x\nsteps:\n  - id: w\n    wait_until:\n      until: {shell: 'echo n=3 >> $RUNBOOK_OUTPUT'}\n      condition: poll.n >= 3\n"
        #expect(diagnostics(ok).isEmpty)
        let misplaced = diagnostics("name: x\nsteps:\n  - id: l\n    log: '${{ poll.n }}'\n")
        #expect(misplaced.first?.contains("undefined name 'poll.n'") == true)
    }

    @Test func startedRunbooksGetTheParametersTheyNeed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("params-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "name: restart\nparams: {service: {type: string}}\nsteps:\n  - id: go\n    log: hi\n".write(to: folder.appendingPathComponent("restart.yaml"), atomically: true, encoding: .utf8)
        try """
            name: caller
            steps:
              - id: ok
                run: {runbook: restart, params: {service: bridge}}
              - id: missing
                run: restart
              - id: extra
                run: {runbook: restart, params: {service: bridge, servce: x}}
              - id: recovery
                shell: 'true'
                on_failure: {run: restart}
            """.write(to: folder.appendingPathComponent("caller.yaml"), atomically: true, encoding: .utf8)
        let messages = RunbookLibrary.load(paths: [folder.path], loader: loader).diagnostics.map(\.message)
        #expect(messages.count == 3)
        #expect(messages.contains("runbook 'restart' needs parameter service: pass service under params:"))
        #expect(messages.contains { $0.hasPrefix("runbook 'restart' has no parameter 'servce' (did you mean 'service'?)") })
        #expect(messages.contains { $0.contains("a recovery runbook is started without parameters: give service a default in 'restart'") })
    }

    @Test func runReferencesAreCheckedAcrossFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("links-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "name: first\nsteps:\n  - id: go\n    run: second\n".write(to: folder.appendingPathComponent("first.yaml"), atomically: true, encoding: .utf8)
        try "name: second\nsteps:\n  - id: back\n    run: first\n  - id: lost\n    run: thrid\n".write(to: folder.appendingPathComponent("second.yaml"), atomically: true, encoding: .utf8)
        let library = RunbookLibrary.load(paths: [folder.path], loader: loader)
        let messages = library.diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("cycle: first -> second -> first") })
        #expect(messages.contains { $0.hasPrefix("unknown runbook 'thrid'") })
        #expect(library.diagnostics.allSatisfy { $0.location.line > 1 })
        #expect(throws: ValidationFailure.self) { try library.resolve("first") }
    }
}

@Suite struct EngineConfigTests {
    @Test func flowsProcessesRestartAndServerZoneAreReadAndChecked() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good.yaml")
        try """
            server_time_zone: Europe/Athens
            flows: {router: "tcp://*:6555"}
            restart: {wait: 10s, budget: 5}
            processes:
              - {name: engine, command: /bin/true, ports: [5557], stop_timeout: 3s}
            """.write(to: good, atomically: true, encoding: .utf8)
        let config = try EngineConfig.load(path: good.path, environment: [:], channels: Catalog.channels)
        #expect(config.serverTimeZone == "Europe/Athens")
        #expect(config.flows.router == "tcp://*:6555")
        #expect(config.restart.budget == 5 && config.restart.wait == .seconds(10))
        #expect(config.processes.first?.ports == [5557])

        let bad = folder.appendingPathComponent("bad.yaml")
        try "server_time_zone: Mars/Olympus\nflows: {router: 5555}\n".write(to: bad, atomically: true, encoding: .utf8)
        let failure = #expect(throws: ValidationFailure.self) { try EngineConfig.load(path: bad.path, environment: [:], channels: Catalog.channels) }
        #expect(failure?.diagnostics.map(\.location.line) == [1, 2])
        #expect(failure?.diagnostics.first?.message.contains("unknown time zone 'Mars/Olympus'") == true)
    }
}

@Suite struct ParamBindingTests {
    let runbook = try! RunbookLoader(catalog: Catalog.steps).load(text: """
        name: p
        params:
          target: {type: string}
          limit: {type: duration, default: 5m}
          retries: {type: int, default: 3}
          pin: {type: int, default: 1234, secret: true}
        steps:
          - id: a
            log: hi
        """, file: "p.yaml")

    @Test func typesAndDefaults() throws {
        let values = try ParamBinding.bind(["target": "ea-02", "limit": "90s"], to: runbook)
        #expect(values["target"] == .string("ea-02"))
        #expect(values["limit"] == .duration(.seconds(90)))
        #expect(values["retries"] == .number(3))
    }

    @Test func mistakesSayWhatToDo() {
        #expect(throws: ParamBinding.Failure.self) { try ParamBinding.bind([:], to: runbook) }
        let unknown = #expect(throws: ParamBinding.Failure.self) { try ParamBinding.bind(["target": "x", "targte": "y"], to: runbook) }
        #expect(unknown?.description.contains("did you mean 'target'?") == true)
        let wrong = #expect(throws: ParamBinding.Failure.self) { try ParamBinding.bind(["target": "x", "retries": "many"], to: runbook) }
        #expect(wrong?.description == "parameter 'retries' is 'many': give a whole number such as 3")
        let secret = #expect(throws: ParamBinding.Failure.self) { try ParamBinding.bind(["target": "x", "pin": "hunter2"], to: runbook) }
        #expect(secret?.description.contains("hunter2") == false)
    }
}
