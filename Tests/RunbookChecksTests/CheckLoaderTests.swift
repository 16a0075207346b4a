import Foundation
import RunbookApp
import RunbookChecks
import RunbookModel
import Testing

@Suite struct CheckLoaderTests {
    let loader = CheckLoader(probes: Catalog.probes)

    @Test func everyMistakeInACheckIsReportedWithFileLineAndColumn() {
        let text = """
            name: ea-heartbeat
            probe: {ea_hartbeat: {}}
            warning: "above 120"
            interval: 5x
            hysteresis: {fail: 0, recover: 2}
            during: weekdays
            on_critical: {runbook: ea-lost}
            colour: red

            """
        #expect {
            try loader.load(text: text, file: "bad.yaml")
        } throws: { error in
            let found = ((error as? ValidationFailure)?.diagnostics ?? []).map { "\($0.location.line):\($0.location.column) \($0.message)" }
            let expected = [
                "2:9 unknown probe 'ea_hartbeat' (did you mean 'ea_heartbeat'?)", "3:10 'above 120' is not a limit for warning",
                "4:11 '5x' is not a duration", "5:20 '0' is not valid for hysteresis.fail", "6:9 during 'weekdays' is not known",
                "7:14 on_critical needs `run: RUNBOOK`", "7:15 unknown key 'runbook' in on_critical", "8:1 unknown key 'colour' in the check",
            ]
            return found.count == expected.count && zip(found, expected).allSatisfy { $0.hasPrefix($1) }
        }
    }

    @Test func limitsMustFitWhatTheProbeMeasures() {
        let text = """
            name: ports
            probe: {port: [5555, 5556]}
            critical: "> 5m"
            warning: "more than 1"
            """
        #expect {
            try loader.load(text: text, file: "ports.yaml")
        } throws: { error in
            let found = ((error as? ValidationFailure)?.diagnostics ?? []).map { "\($0.location.line):\($0.location.column) \($0.message)" }
            return found.count == 2 && found[0].contains("3:11 critical '> 5m' is a duration, but this probe measures count")
                && found[1].contains("4:10 'more than 1' is not a limit for warning")
        }
    }

    @Test func aCheckTakesTheProbesDefaultsAndItsOwnSettings() throws {
        let check = try loader.load(text: """
            name: heartbeat
            probe: ea_heartbeat
            interval: 2s
            hysteresis: {fail: 4}
            during: market
            on_critical: {run: ea-lost, params: {wait: 30s}}
            """, file: "heartbeat.yaml")
        #expect(check.warning == Threshold(.above, 120))
        #expect(check.critical == Threshold(.above, 300))
        #expect(check.interval == .seconds(2))
        #expect(check.failAfter == 4 && check.recoverAfter == 2)
        #expect(check.duringMarket)
        #expect(check.onCritical?.runbook == "ea-lost" && check.onCritical?.params == ["wait": "30s"])
    }

    @Test func theShippedChecksAllLoad() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Checks").standardized.path
        let checks = try loader.loadAll(paths: [folder])
        let names = Set(checks.map(\.name))
        for expected in ["ea-heartbeat", "market-data", "signals-per-hour", "signals-per-day", "win-rate", "tracking-files", "restarts", "disk-free", "flows"] {
            #expect(names.contains(expected), "no shipped check \(expected)")
        }
        // The seed's limits.
        let byName = Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0) })
        #expect(byName["ea-heartbeat"]?.warning?.limit == 120 && byName["ea-heartbeat"]?.critical?.limit == 300)
        #expect(byName["signals-per-day"]?.warning?.limit == 52 && byName["signals-per-day"]?.critical?.limit == 39)
        #expect(byName["win-rate"]?.warning?.limit == 80 && byName["win-rate"]?.critical?.limit == 75)
        #expect(byName["disk-free"]?.critical?.comparison == .below && byName["disk-free"]?.critical?.limit == 10)
        #expect(byName["market-data"]?.critical?.limit == 300 && byName["market-data"]?.duringMarket == true)
    }
}
