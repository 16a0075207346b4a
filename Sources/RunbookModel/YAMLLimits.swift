/// How much YAML a loader takes in: runbooks, checks, schedules and runbook.yaml alike. A file
/// past a limit is refused with an error saying where and why, before it can hold the machine's
/// memory or time.
public enum YAMLLimits {
    /// The largest file read, 1 MiB; a larger one is refused before it is read.
    public static let fileSize = 1 << 20
    /// The most nodes (keys, values, list items) a document may have, an alias counting as every
    /// node it stands for: a few nested aliases would otherwise stand for billions.
    public static let nodes = 100_000
    /// The most characters of source text an error shows, a line or a quoted value; the rest is cut with "…".
    public static let echo = 120

    /// `1 MiB (1048576 bytes)`.
    static var fileSizeText: String { "1 MiB (\(fileSize) bytes)" }
}
