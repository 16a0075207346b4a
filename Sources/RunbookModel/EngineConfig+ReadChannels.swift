import Foundation
import Yams

extension ChannelSettings {
    /// Keys under which someone would write a secret itself; each is refused with the key to write
    /// instead.
    static let inlineSecretKeys: Set<String> = [
        "token", "bot_token", "password", "pass", "passwd", "secret", "api_key", "apikey", "access_token", "auth_token",
        "bearer", "authorization",
    ]

    /// An environment variable's name as a shell writes it.
    public static func isVariableName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// A bare address such as ops@example.com: what SMTP's envelope and the headers take.
    public static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 && $0.value < 127 && !"<>()[],;:\"\\".unicodeScalars.contains($0) }
    }

    /// A channel's name: letters, digits, '-', '_' and '.'.
    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// "telegram, email or webhook".
    static func alternatives(_ words: [String]) -> String {
        guard let last = words.last, words.count > 1 else { return words.joined() }
        return words.dropLast().joined(separator: ", ") + " or " + last
    }
}

extension EngineConfig {
    /// `channels:`: a map from a channel's name to its settings, each read by its kind in `kinds`.
    mutating func readChannels(_ node: Node, kinds: any ChannelCatalog, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "channels") else { return }
        let base = (source.file as NSString).deletingLastPathComponent
        for (name, keyNode, value) in entries {
            guard ChannelSettings.isName(name) else {
                source.error(keyNode, "channel name '\(name)' is not a plain name: use letters, digits, '-', '_' and '.', such as ops-telegram")
                continue
            }
            guard !channels.contains(where: { $0.name == name }) else {
                source.error(keyNode, "channel name '\(name)' is used twice: give each channel its own")
                continue
            }
            if let channel = Self.readChannel(name, value, base: base, kinds: kinds, &source) { channels.append(channel) }
        }
    }

    private static func readChannel(_ name: String, _ node: Node, base: String, kinds: any ChannelCatalog, _ source: inout YAMLSource) -> ChannelSettings? {
        let what = "channel '\(name)'"
        guard let entries = source.entries(node, what: what) else { return nil }
        let field = { (key: String) in entries.first { $0.key == key }?.value }

        // A secret written in the file is refused first, whatever else is wrong, and never shown.
        let secretKey = field("type")?.scalar.flatMap { kinds.options(forType: $0.string) }?.spec.secretKey ?? "token_env"
        var refused: Set<String> = []
        for entry in entries where ChannelSettings.inlineSecretKeys.contains(entry.key.lowercased()) {
            refused.insert(entry.key)
            source.error(
                entry.keyNode,
                "\(what): '\(entry.key)' would keep a secret in runbook.yaml: put it in an environment variable and write \(secretKey): VARIABLE_NAME instead",
                masking: entry.value.scalar?.string ?? "")
        }

        let types = kinds.channelTypes
        guard let typeNode = field("type") else {
            source.error(node, "\(what) needs a type: write type: \(ChannelSettings.alternatives(types))")
            return nil
        }
        guard let type = source.string(typeNode, what: "\(what).type") else { return nil }
        guard let kind = kinds.options(forType: type) else {
            source.error(typeNode, "unknown channel type '\(type)'\(Suggestion.hint(for: type, in: types)): write \(ChannelSettings.alternatives(types))")
            return nil
        }
        source.rejectUnknownKeys(entries.filter { !refused.contains($0.key) }, allowed: ["type", "timeout"] + kind.spec.keys, in: what)

        // The kind reads its own keys; its problems join the configuration's.
        var fields = ChannelFields(name: name, node: node, entries: entries, refusedSecret: !refused.isEmpty, base: base, source: source)
        let options = read(kind, &fields)
        source = fields.source
        guard let options else { return nil }

        var channel = ChannelSettings(name: name, options: options)
        if let timeoutNode = field("timeout"), let timeout = source.duration(timeoutNode, what: "\(what).timeout") {
            if timeout <= .zero || timeout > .seconds(600) {
                source.error(timeoutNode, "\(what).timeout must be more than 0 and at most 10m: write it like 10s")
            } else {
                channel.timeout = timeout
            }
        }
        return channel
    }

    private static func read<Options: ChannelOptions>(_ kind: Options.Type, _ fields: inout ChannelFields) -> (any ChannelOptions)? {
        kind.read(&fields)
    }
}
