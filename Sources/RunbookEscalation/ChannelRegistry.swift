import Foundation
import RunbookModel

/// Reads an environment variable when a message is sent, so a secret is never copied into the
/// configuration and a changed variable is seen by the next delivery.
public typealias EnvironmentLookup = @Sendable (String) -> String?

/// A kind of notification channel: the settings of its `channels:` entry, read and checked by the
/// kind itself (`ChannelOptions`), and the channel built from them.
///
/// To add a channel, write one type conforming to this protocol, and the `NotificationChannel` it
/// builds, in one file, and register it in a `ChannelRegistry`; nothing else changes.
public protocol ChannelKind: ChannelOptions {
    /// The channel named `name` in `runbook.yaml`; secrets are read through `environment` at each delivery.
    func channel(name: String, timeout: Duration, environment: @escaping EnvironmentLookup) -> any NotificationChannel
}

/// The channel kinds a build offers, in the order they were registered (the order messages list them in).
public struct ChannelRegistry: ChannelCatalog {
    private var kinds: [any ChannelKind.Type] = []

    public init(_ kinds: [any ChannelKind.Type] = []) {
        for kind in kinds { register(kind) }
    }

    public mutating func register(_ kind: any ChannelKind.Type) {
        precondition(options(forType: kind.spec.type) == nil, "channel type \(kind.spec.type) registered twice")
        kinds.append(kind)
    }

    /// This registry with the kinds of `other` added after its own.
    public func merging(_ other: ChannelRegistry) -> ChannelRegistry {
        var merged = self
        for kind in other.kinds { merged.register(kind) }
        return merged
    }

    public var channelTypes: [String] { kinds.map { $0.spec.type } }

    public func options(forType type: String) -> (any ChannelOptions.Type)? {
        kinds.first { $0.spec.type == type }
    }

    /// One channel per settings, in the same order; secrets are read through `environment` at
    /// each delivery.
    public func make(
        _ settings: [ChannelSettings], environment: @escaping EnvironmentLookup = { ProcessInfo.processInfo.environment[$0] }
    ) -> [any NotificationChannel] {
        settings.map { settings -> any NotificationChannel in
            guard let kind = settings.options as? any ChannelKind else { preconditionFailure("channel type \(settings.type) builds no channel") }
            return kind.channel(name: settings.name, timeout: settings.timeout, environment: environment)
        }
    }

    /// The same, with the environment as a dictionary (a test's, or a snapshot of the process's).
    public func make(_ settings: [ChannelSettings], environment: [String: String]) -> [any NotificationChannel] {
        make(settings) { environment[$0] }
    }
}
