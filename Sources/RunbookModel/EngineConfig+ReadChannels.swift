import Yams

extension EngineConfig {
    /// `channels:`: a map from a channel's name to its settings.
    mutating func readChannels(_ node: Node, _ source: inout YAMLSource) {
        guard source.entries(node, what: "channels") != nil else { return }
        // Filled in with the channels themselves.
    }
}
