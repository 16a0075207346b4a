import Yams

/// Counts a document's nodes in document order, each alias as the nodes its anchor stands for,
/// and stops at the first node past `YAMLLimits.nodes`.
struct YAMLNodeCount {
    /// The character an alias's `*` was replaced with; nil when the text has no `*`.
    let marker: Unicode.Scalar?
    private var total = 0
    /// Where counting stopped, when it did.
    private(set) var stoppedAt: Mark?
    /// The nodes each anchor stands for, the latest anchor of a name winning as in YAML.
    private var anchors: [String: Int] = [:]

    init(marker: Unicode.Scalar?) {
        self.marker = marker
    }

    /// Whether the whole tree is within the limits.
    mutating func walk(_ root: Node) -> Bool {
        add(root) != nil
    }

    /// The nodes `node` stands for; nil once counting has stopped.
    private mutating func add(_ node: Node) -> Int? {
        if let name = aliasName(node) {
            let size = anchors[name] ?? 1
            return count(size, at: node) ? size : nil
        }
        guard count(1, at: node) else { return nil }
        var size = 1
        switch node {
        case .sequence(let sequence):
            for item in sequence {
                guard let items = add(item) else { return nil }
                size += items
            }
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard let keys = add(key), let values = add(value) else { return nil }
                size += keys + values
            }
        case .scalar, .alias: break
        }
        if let anchor = node.anchor { anchors[anchor.rawValue] = size }
        return size
    }

    private mutating func count(_ nodes: Int, at node: Node) -> Bool {
        total += nodes
        guard total > YAMLLimits.nodes else { return true }
        stoppedAt = node.mark
        return false
    }

    /// The anchor an alias names, when `node` is an alias as the probe text reads it.
    private func aliasName(_ node: Node) -> String? {
        guard let marker, case .scalar(let scalar) = node, scalar.style == .plain, scalar.string.unicodeScalars.first == marker else { return nil }
        return String(scalar.string.unicodeScalars.dropFirst().prefix { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") })
    }
}
