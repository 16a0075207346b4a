import CSystemd
import Foundation

/// Tells systemd (through sd_notify, when NOTIFY_SOCKET is set) that the engine is ready, that it
/// is alive (the watchdog, when WatchdogSec= is set), and that it is stopping.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// True when a service manager listens.
    public var isActive: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    public func ready(status: String) {
        notify("READY=1\nSTATUS=\(status)")
    }

    public func stopping() {
        notify("STOPPING=1")
    }

    /// How often to ping the watchdog (half its timeout), or nil when none is set.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds / 2))
    }

    public func alive() {
        notify("WATCHDOG=1")
    }

    private func notify(_ state: String) {
        guard isActive else { return }
        _ = sd_notify(0, state)
    }
}
