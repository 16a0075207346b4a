import Foundation
import Logging
import Synchronization

/// Log lines on standard error, as text for people or JSON lines for log collectors.
struct RunbookLogHandler: LogHandler {
    enum Format: Int {
        case text, json
        /// The message alone: for a program whose lines the engine logs with its own time and level.
        case message
    }

    /// Chosen once the command line is read; `up` defaults to JSON when not on a terminal.
    static let format = Atomic<Int>(Format.text.rawValue)
    static let level = Atomic<Int>(Logger.Level.info.index)
    /// Where lines go instead of standard error (`up --log-file`).
    static let file = Mutex<RotatingLogFile?>(nil)

    let label: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level {
        get { Logger.Level.allCases[Self.level.load(ordering: .relaxed)] }
        set { Self.level.store(newValue.index, ordering: .relaxed) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let time = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let line: String
        if Self.format.load(ordering: .relaxed) == Format.json.rawValue {
            var object: [String: Any] = ["time": time, "level": event.level.rawValue, "logger": label, "message": event.message.description]
            if !merged.isEmpty { object["metadata"] = merged.mapValues { "\($0)" } }
            line = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])).map { String(decoding: $0, as: UTF8.self) } ?? event.message.description
        } else {
            let fields = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
            let prefix = Self.format.load(ordering: .relaxed) == Format.message.rawValue ? "" : "\(time) \(event.level) "
            line = "\(prefix)\(event.message)" + (fields.isEmpty ? "" : " [\(fields)]")
        }
        if let file = Self.file.withLock({ $0 }) {
            file.write(line + "\n")
        } else {
            try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
        }
    }
}

extension Logger.Level {
    var index: Int { Logger.Level.allCases.firstIndex(of: self) ?? 2 }
}
