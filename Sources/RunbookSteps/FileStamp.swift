import Foundation

/// The UTC date-and-time stamp in the names of archives and backups: `20261121-074900`.
/// It sorts as time does, so the newest file of a series is the last by name.
public enum FileStamp {
    public static func string(for date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: date)
    }

    /// `folder/prefix-STAMP.ext`, with `-2`, `-3`... added if that name is taken.
    public static func unusedPath(in folder: String, prefix: String, extension ext: String, date: Date = Date()) -> String {
        let base = (folder as NSString).appendingPathComponent("\(prefix)-\(string(for: date))")
        var path = "\(base).\(ext)"
        var counter = 2
        while FileManager.default.fileExists(atPath: path) || FileManager.default.fileExists(atPath: path + ".partial") {
            path = "\(base)-\(counter).\(ext)"
            counter += 1
        }
        return path
    }
}
