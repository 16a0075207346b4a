import Foundation

/// Names a running process so that a later process can tell whether it still runs, even after
/// its pid has been reused: boot id, pid and the process's start time in clock ticks.
public enum ProcessIdentity {
    public static var current: String {
        identity(of: getpid()) ?? "unknown:\(getpid())"
    }

    public static func identity(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3, start time is field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return "\(bootID):\(pid):\(fields[19])"
    }

    /// Whether `identity` names a process of this machine since its last boot: only then can
    /// `isAlive` tell a dead process from one on another host.
    public static func isOfThisBoot(_ identity: String) -> Bool {
        identity.split(separator: ":").first.map(String.init) == bootID
    }

    public static func isAlive(_ identity: String) -> Bool {
        let parts = identity.split(separator: ":")
        guard parts.count == 3, let pid = Int32(parts[1]) else { return false }
        return self.identity(of: pid) == identity
    }

    private static let bootID: String = {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "boot"
    }()
}
