import Foundation
import Synchronization

/// A log file that is rotated by size: at `maxBytes`, `engine.log` becomes `engine.log.1`,
/// `.1` becomes `.2`, and so on; files past `keep` are deleted.
final class RotatingLogFile: Sendable {
    let path: String
    let maxBytes: Int
    let keep: Int
    private let state: Mutex<(handle: FileHandle?, size: Int)>

    init(path: String, maxBytes: Int, keep: Int) throws {
        self.path = path
        self.maxBytes = max(maxBytes, 1024)
        self.keep = max(keep, 1)
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        state = Mutex((try Self.open(path), Self.size(of: path)))
    }

    func write(_ line: String) {
        let data = Data(line.utf8)
        state.withLock { state in
            if state.size + data.count > maxBytes, state.size > 0 {
                try? state.handle?.close()
                rotate()
                state.handle = try? Self.open(path)
                state.size = 0
            }
            // A full disk loses the line, never the engine.
            try? state.handle?.write(contentsOf: data)
            state.size += data.count
        }
    }

    private func rotate() {
        let manager = FileManager.default
        try? manager.removeItem(atPath: "\(path).\(keep)")
        for index in stride(from: keep - 1, through: 1, by: -1) {
            try? manager.moveItem(atPath: "\(path).\(index)", toPath: "\(path).\(index + 1)")
        }
        try? manager.moveItem(atPath: path, toPath: "\(path).1")
    }

    private static func open(_ path: String) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        _ = try? handle.seekToEnd()
        return handle
    }

    private static func size(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}
