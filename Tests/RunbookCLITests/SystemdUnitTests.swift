import Foundation
import Testing

/// The shipped systemd unit is one systemd accepts, and it keeps the promises Docs/security.md
/// makes of it: restart after any crash, never give up, wait for a person only on a
/// configuration error, and files the engine's own.
@Suite struct SystemdUnitTests {
    static let unit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Docs/deploy/runbook.service")

    /// The unit, and the unit with the fleet's drop-in (its sections merged in, as systemd does).
    @Test(arguments: [false, true])
    func systemdAcceptsTheShippedUnit(withFleetDropIn: Bool) throws {
        // The unit names /usr/local/bin/runbook; verified with the program just built in its place.
        var text = try String(contentsOf: Self.unit, encoding: .utf8)
            .replacingOccurrences(of: "ExecStart=/usr/local/bin/runbook", with: "ExecStart=\(CLIHarness.executable.path)")
        if withFleetDropIn {
            text += "\n" + (try String(contentsOf: Self.unit.deletingLastPathComponent().appendingPathComponent("fleet.conf"), encoding: .utf8))
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("runbook.service")
        try text.write(to: copy, atomically: true, encoding: .utf8)

        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        verify.arguments = ["verify", copy.path]
        let errors = Pipe()
        verify.standardError = errors
        verify.standardOutput = errors
        try verify.run()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        verify.waitUntilExit()
        // A setting systemd cannot parse is only a line naming the file, with status 0.
        let aboutTheUnit = said.split(separator: "\n").filter { $0.contains("runbook.service") }
        #expect(verify.terminationStatus == 0, "\(said)")
        #expect(aboutTheUnit.isEmpty, "\(said)")
    }

    @Test func theUnitRestartsAfterAnyCrashAndNeverGivesUp() throws {
        let settings = try String(contentsOf: Self.unit, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") && $0.contains("=") }
            .map { line -> (String, String) in
                let parts = line.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), String(parts[1]))
            }
        let value = { (key: String) in settings.last { $0.0 == key }?.1 }
        #expect(value("Restart") == "always")
        #expect(value("StartLimitIntervalSec") == "0")
        #expect(value("RestartPreventExitStatus") == "2")
        #expect(value("UMask") == "0077")
        #expect(value("KillMode") == "control-group")
        #expect(value("Type") == "notify" && value("WatchdogSec") != nil)
    }
}
