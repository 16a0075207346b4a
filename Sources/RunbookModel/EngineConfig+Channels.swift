/// A notification channel of `runbook.yaml` (`channels:`, a map from name to settings). Secrets
/// are never written in the file: the file names the environment variables that hold them.
///
/// What one type of channel takes is that type's own `ChannelOptions` (`ChannelSettings.Telegram`
/// and the others live in their adapters), read by it through `ChannelFields`. The model keeps
/// it without knowing the kinds; the `ChannelCatalog` given to `EngineConfig.load` names them.
public struct ChannelSettings: Sendable {
    public var name: String
    /// The kind's own settings, read and checked by the kind.
    public var options: any ChannelOptions
    /// How long one attempt may take before it counts as failed (or uncertain, once sent).
    public var timeout: Duration = .seconds(10)

    public init(name: String, options: any ChannelOptions) {
        self.name = name
        self.options = options
    }

    /// The `type:` written for it.
    public var type: String { Swift.type(of: options).spec.type }
}

/// What the configuration reader needs to know of a kind of channel.
public struct ChannelSpec: Sendable {
    /// The word written as `type:`.
    public var type: String
    /// The keys it takes besides `type` and `timeout`, in the order an unknown key's message lists them.
    public var keys: [String]
    /// The key to write instead of a secret written in the file (`token_env`, `password_env`).
    public var secretKey: String

    public init(type: String, keys: [String], secretKey: String) {
        self.type = type
        self.keys = keys
        self.secretKey = secretKey
    }
}

/// The settings of one kind of channel. `name`, `type`, `timeout`, secrets written in the file
/// and unknown keys are checked for every kind before `read` is called.
public protocol ChannelOptions: Sendable {
    static var spec: ChannelSpec { get }
    /// Reads the keys of `spec.keys`, reporting each problem through `fields`; nil when the
    /// channel cannot be built (its problems have been reported).
    static func read(_ fields: inout ChannelFields) -> Self?
}

/// The channel kinds a configuration may use, in the order messages list them.
public protocol ChannelCatalog: Sendable {
    var channelTypes: [String] { get }
    func options(forType type: String) -> (any ChannelOptions.Type)?
}
