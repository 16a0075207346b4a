import Foundation
import RunbookFuzzing

// `runbook-fuzz TARGET [libFuzzer options] [CORPUS...]`. Built by `Scripts/fuzz` (libFuzzer and
// AddressSanitizer, with FUZZING defined) it fuzzes TARGET, libFuzzer's own main driving the
// functions below; built as usual it replays the files and folders given, so that an input a
// fuzzing run kept can be run again under a debugger.

nonisolated(unsafe) var selected = FuzzTarget.frame

func chooseTarget(_ name: String?) -> FuzzTarget {
    guard let name, let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("usage: runbook-fuzz TARGET [options] [corpus...]\n  TARGET: one of \(names)\n".utf8))
        exit(2)
    }
    return target
}

#if FUZZING
/// Takes the target's name off the command line before libFuzzer reads its options there.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> CInt {
    let name = argc.pointee >= 2 ? argv.pointee[1].map { String(cString: $0) } : nil
    selected = chooseTarget(name)
    argv.pointee[1] = argv.pointee[0]
    argv.pointee += 1
    argc.pointee -= 1
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main
enum FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments
        let target = chooseTarget(arguments.count >= 2 ? arguments[1] : nil)
        var files = 0
        for path in arguments.dropFirst(2) where !path.hasPrefix("-") {
            for file in inputs(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run([UInt8](data))
                files += 1
            }
        }
        print("runbook-fuzz: \(files) inputs replayed through \(target.rawValue), none failed")
    }

    static func inputs(at path: String) -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return [] }
        guard isFolder.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { (path as NSString).appendingPathComponent($0) }
    }
}
#endif
