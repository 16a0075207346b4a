import RunbookEscalation
import RunbookModel

/// The channels of a configuration, ready to deliver.
public enum NotificationChannels {
    public static func make(_ settings: [ChannelSettings]) -> [any NotificationChannel] {
        []
    }
}
