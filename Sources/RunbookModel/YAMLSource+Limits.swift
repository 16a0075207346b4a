import Yams

extension YAMLSource {
    /// The document's root within `YAMLLimits`, or nil with the limit it passed recorded. A
    /// YAML error is thrown, as Yams reports it.
    ///
    /// Yams expands an alias by copying what its anchor stands for, and hashes every key of a
    /// mapping as it composes, so an alias in a key can stand for billions of nodes before any
    /// count of the tree could stop it. A text with a `*` is therefore first composed with each
    /// `*` replaced by a character it does not hold: an alias then reads as a plain scalar
    /// starting with that character (a plain scalar cannot start with `*`, so no other scalar
    /// can), and the nodes are counted with each alias as the nodes its anchor stands for. Only
    /// a text found within the limits is composed as written.
    mutating func composeWithinLimits() throws -> Node? {
        let size = text.utf8.count
        guard size <= YAMLLimits.fileSize else {
            error(SourceLocation(file: file, line: 1, column: 1), YAMLFile.tooLarge(size: "\(size) bytes"))
            return nil
        }
        guard text.utf8.contains(UInt8(ascii: "*")) else {
            guard let root = try Yams.compose(yaml: text) else { return nil }
            var count = YAMLNodeCount(marker: nil)
            return count.walk(root) ? root : report(count)
        }
        guard let marker = Self.absentCharacter(in: text) else {
            error(SourceLocation(file: file, line: 1, column: 1), "the file uses every private-use character U+E000-U+F8FF, so its aliases cannot be checked: remove them")
            return nil
        }
        let stand = String(Character(marker))
        // A node holds its anchor weakly and the parser keeps it: the parser lives while the nodes are counted.
        let parser = try Parser(yaml: text.replacingOccurrences(of: "*", with: stand))
        let probe: Node?
        do {
            probe = try parser.singleRoot()
        } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
            throw YamlError.duplicatedKeysInMapping(duplicates: duplicates.map { $0.replacingOccurrences(of: stand, with: "*") }, context: context)
        }
        guard let probe else { return nil }
        var count = YAMLNodeCount(marker: marker)
        let within = withExtendedLifetime(parser) { count.walk(probe) }
        guard within else { return report(count) }
        return try Yams.compose(yaml: text)
    }

    private mutating func report(_ count: YAMLNodeCount) -> Node? {
        error(location(count.stoppedAt), """
            the document has more than \(YAMLLimits.nodes) YAML nodes (keys, values and list items, an alias counting as every node it \
            stands for); counting stopped here: split it into smaller files
            """)
        return nil
    }

    /// A private-use character the text does not hold; nil when it holds every one.
    static func absentCharacter(in text: String) -> Unicode.Scalar? {
        let range: ClosedRange<UInt32> = 0xE000...0xF8FF
        var present = Set<UInt32>()
        for scalar in text.unicodeScalars where range.contains(scalar.value) { present.insert(scalar.value) }
        return range.lazy.first { !present.contains($0) }.flatMap(Unicode.Scalar.init)
    }
}
