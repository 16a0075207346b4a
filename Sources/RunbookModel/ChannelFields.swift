import Foundation
import Yams

/// One entry of `channels:` as its kind reads it (`ChannelOptions.read`): its values by key, and
/// the configuration's diagnostics, so that each problem has its file:line:column and a secret
/// it shows is masked in every diagnostic's source line.
public struct ChannelFields {
    /// Where a value is in the file, for an error about it.
    public struct Field {
        let node: Node
    }

    /// The channel's name, the key under `channels:`.
    public let name: String
    /// Whether a secret written in the entry was refused already (saying what to write instead).
    public let refusedSecret: Bool
    var source: YAMLSource
    private let node: Node
    private let entries: [(key: String, keyNode: Node, value: Node)]
    /// The configuration's folder, which relative paths are read against.
    private let base: String

    init(name: String, node: Node, entries: [(key: String, keyNode: Node, value: Node)], refusedSecret: Bool, base: String, source: YAMLSource) {
        self.name = name
        self.node = node
        self.entries = entries
        self.refusedSecret = refusedSecret
        self.base = base
        self.source = source
    }

    /// "channel 'NAME'": how every message names the channel.
    public var what: String { "channel '\(name)'" }

    /// The whole entry: where a missing key is reported.
    public var entry: Field { Field(node: node) }

    /// The value under `key`, if written.
    public func field(_ key: String) -> Field? {
        entries.first { $0.key == key }.map { Field(node: $0.value) }
    }

    /// A list's items, or the value alone when it is not a list.
    public func items(_ field: Field) -> [Field] {
        (field.node.sequence.map(Array.init) ?? [field.node]).map { Field(node: $0) }
    }

    /// Reports a problem at `field`.
    public mutating func error(_ field: Field, _ message: String) {
        source.error(field.node, message)
    }

    /// Reports a problem at `field` about a secret, which is masked in every diagnostic's source line.
    public mutating func error(_ field: Field, _ message: String, masking secret: String) {
        source.error(field.node, message, masking: secret)
    }

    /// The value as text; a mapping or a list is reported.
    public mutating func string(_ field: Field, what: String) -> String? {
        source.string(field.node, what: what)
    }

    /// The text under `key`, if written.
    public mutating func text(_ key: String) -> String? {
        guard let place = self.field(key) else { return nil }
        return string(place, what: "\(what).\(key)")
    }

    /// The text under `key`; its absence is reported on the entry with what to write.
    public mutating func required(_ key: String, example: String) -> String? {
        guard self.field(key) != nil else {
            error(entry, "\(what) needs \(key): write \(key): \(example)")
            return nil
        }
        return text(key)
    }

    /// The name of an environment variable; a value that cannot be one may be the secret itself.
    public mutating func variable(_ key: String, example: String) -> String? {
        guard let place = self.field(key), let word = string(place, what: "\(what).\(key)") else { return nil }
        guard ChannelSettings.isVariableName(word) else {
            error(place, "\(what).\(key) must name an environment variable (letters, digits and _, such as \(example)), not hold the secret itself", masking: word)
            return nil
        }
        return word
    }

    /// A URL with one of `schemes`, a host, and no login in it; `login` says which keys to use instead.
    public mutating func url(_ key: String, schemes: [String], example: String, login: String) -> (text: String, parts: URLComponents)? {
        guard let place = self.field(key), let value = string(place, what: "\(what).\(key)") else { return nil }
        guard let parts = URLComponents(string: value), let scheme = parts.scheme?.lowercased(), schemes.contains(scheme),
              let host = parts.host, !host.isEmpty
        else {
            let shown = URLComponents(string: value)?.password == nil ? " '\(value)'" : ""
            error(place, "\(what).\(key)\(shown) is not a \(schemes.joined(separator: " or ")) URL: write it like \(example)", masking: URLComponents(string: value)?.password ?? "")
            return nil
        }
        if parts.user != nil || parts.password != nil {
            error(place, "\(what).\(key) must not carry a login: name environment variables with \(login) instead", masking: parts.password ?? "")
            return nil
        }
        return (value, parts)
    }

    /// A path as written, read against the configuration's folder when relative.
    public func path(_ text: String) -> String {
        text.hasPrefix("/") || base.isEmpty ? text : (base as NSString).appendingPathComponent(text)
    }
}
