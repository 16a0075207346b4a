import Foundation
import RunbookModel
import Subprocess
import SystemPackage

/// Packs chosen files into a dated tar.gz, checks the archive against the originals, then removes them.
public struct ArchiveStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "archive",
        summary: "pack files into a verified tar.gz and remove the originals",
        inputs: [
            InputSpec("from", .string, required: true),
            InputSpec("to", .string, required: true),
            InputSpec("prefix", .string),
            InputSpec("remove_originals", .bool),
        ] + FileSelection.inputs,
        outputs: ["archive", "files", "bytes"]
    )

    public var from: String
    public var to: String
    public var prefix: String
    public var removeOriginals: Bool
    public var selection: FileSelection

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        from = try inputs.string("from")
        to = try inputs.string("to")
        prefix = inputs.string("prefix", default: "archive")
        removeOriginals = try inputs.bool("remove_originals", default: true)
        selection = try FileSelection(folder: from, inputs: inputs)
    }

    public func describe() -> String {
        let chosen = (try? selection.files()).map { "\($0.count) file(s), \($0.reduce(0) { $0 + $1.size }) bytes" } ?? "no files (folder unreadable)"
        return "archive \(selection.summary) into \(to)/\(prefix)-DATE.tar.gz (now: \(chosen))" + (removeOriginals ? ", then remove them" : "")
    }

    public func run(in context: StepContext) async throws -> StepResult {
        var selection = self.selection
        selection.folder = context.resolvePath(from)
        let files = try selection.files()
        guard !files.isEmpty else {
            return StepResult(outputs: ["archive": .string(""), "files": .number(0), "bytes": .number(0)], output: "nothing to archive: no \(selection.summary)")
        }
        let folder = context.resolvePath(to)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StepFailure("cannot create the archive folder \(folder): \(error.localizedDescription)")
        }
        let archive = FileStamp.unusedPath(in: folder, prefix: prefix, extension: "tar.gz")
        let partial = archive + ".partial"
        let names = files.map(\.name)

        do {
            try await tar(["-czf", partial, "-C", selection.folder, "--"] + names, doing: "create \(partial)")
            // `tar --compare` reads the archive back and compares every member with the file on disk.
            try await tar(["--compare", "-zf", partial, "-C", selection.folder], doing: "verify \(partial) against the originals")
        } catch {
            unlink(partial)
            throw error
        }
        do {
            try FileManager.default.moveItem(atPath: partial, toPath: archive)
        } catch {
            throw StepFailure("cannot rename \(partial) to \(archive): \(error.localizedDescription)")
        }
        if removeOriginals {
            for file in files {
                do { try FileManager.default.removeItem(atPath: file.path) } catch {
                    throw StepFailure("archived and verified \(archive), but cannot remove \(file.path): \(error.localizedDescription)")
                }
            }
        }
        let bytes = files.reduce(0) { $0 + $1.size }
        return StepResult(
            outputs: ["archive": .string(archive), "files": .number(Double(files.count)), "bytes": .number(Double(bytes))],
            output: "archived \(files.count) file(s), \(bytes) bytes, into \(archive)" + (removeOriginals ? " and removed the originals" : "")
        )
    }

    private func tar(_ arguments: [String], doing what: String) async throws {
        let result = try await Subprocess.run(
            .name("tar"), arguments: Arguments(arguments), output: .discarded, error: .string(limit: 64 * 1024)
        )
        guard case .exited(0) = result.terminationStatus else {
            throw StepFailure("tar could not \(what): \(result.standardError)")
        }
    }
}
