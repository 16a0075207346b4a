import Foundation

/// A Python peer of the tests, listening on loopback on a port the system chose for it,
/// recording what it received in a file of JSON lines.
public final class Peer {
    public let process = Process()
    public let folder: URL
    public let port: Int

    public struct NotReady: Error, CustomStringConvertible {
        public var description: String
    }

    /// A new scratch folder, which a peer given it removes when it goes.
    public static func scratchFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("channels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Starts `script` with the record file (in `folder`) and `arguments`, and waits until it says
    /// its port.
    public init(script: URL, _ arguments: [String] = [], folder: URL? = nil) throws {
        self.folder = try folder ?? Self.scratchFolder()
        let output = Pipe()
        // Debian's Python: the SMTP peer needs python3-aiosmtpd.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script.path, self.folder.appendingPathComponent("received.jsonl").path] + arguments
        process.standardOutput = output
        try process.run()
        port = Int(firstLine(of: output)) ?? 0
        if port == 0 {
            kill(process.processIdentifier, SIGKILL)
            try? FileManager.default.removeItem(at: self.folder)
            throw NotReady(description: "\(script.lastPathComponent) did not start (see its error output above)")
        }
    }

    deinit {
        // Processes started from a test thread inherit its blocked signals, SIGTERM among them.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }

    /// What the peer received, one entry per request or message, in order.
    public var received: [[String: Any]] {
        let text = (try? String(contentsOf: folder.appendingPathComponent("received.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// A JSON body the peer received, decoded.
    public static func json(_ entry: [String: Any]?) -> [String: Any] {
        guard let body = entry?["body"] as? String else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
}

