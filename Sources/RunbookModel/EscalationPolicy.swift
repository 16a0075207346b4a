import Yams

/// How incidents climb and whom each level reaches (`escalation:` in runbook.yaml).
///
/// Levels: 1 automatic recovery (the check's runbook), 2 alert notification, 3 manual
/// intervention (more channels), 4 system reset (`emergency-recovery`, only with a person's
/// confirmation). Without the section every level notifies every configured channel, an
/// incident still bad 5 minutes into its recovery climbs to 2, level 2 climbs to 3 after 15
/// minutes unacknowledged, and the cooldown is an hour.
public struct EscalationPolicy: Sendable, Equatable {
    public struct Level: Sendable, Equatable {
        /// Channels by name; nil for every configured channel.
        public var channels: [String]?
        /// Unacknowledged this long, the incident climbs one level (never to 4); nil: it stays.
        /// At level 1, the grace its recovery has before people hear of it.
        public var climbAfter: Duration?

        public init(channels: [String]? = nil, climbAfter: Duration? = nil) {
            self.channels = channels
            self.climbAfter = climbAfter
        }
    }

    /// Least time between two notifications of the same incident key at the same severity; a
    /// higher severity, a climb and a resolve go out regardless.
    public var cooldown: Duration = .seconds(3600)
    /// Levels 1 (its climb only: it tells nobody), 2, 3 and 4.
    public var levels: [Int: Level] = [1: Level(climbAfter: .seconds(300)), 2: Level(climbAfter: .seconds(900)), 3: Level(), 4: Level()]
    /// Per channel, the channel a message goes to once it has failed `fallbackAfter` times there
    /// (or was rejected).
    public var fallback: [String: String] = [:]
    public var fallbackAfter = 5
    /// The outbox's wait between attempts: doubling from `retryMin` up to `retryMax`.
    public var retryMin: Duration = .seconds(1)
    public var retryMax: Duration = .seconds(60)

    public init() {}

    /// The channel names a level notifies, from those configured.
    public func channels(for level: Int, configured: [String]) -> [String] {
        let named = levels[min(max(level, 2), 4)]?.channels ?? configured
        return named.filter(configured.contains)
    }

    static let keys = ["cooldown", "levels", "fallback", "fallback_after", "retry"]
}

extension EngineConfig {
    /// `escalation:`: cooldown, levels (1 with `climb_after`, 2-4 with `channels` and
    /// `climb_after`), fallback.
    /// Returns the channel names it uses, with where, for `checkChannelReferences`.
    mutating func readEscalation(_ node: Node, _ source: inout YAMLSource) -> [(String, Node)] {
        var escalationReferences: [(String, Node)] = []
        guard let entries = source.entries(node, what: "escalation") else { return [] }
        source.rejectUnknownKeys(entries, allowed: EscalationPolicy.keys, in: "escalation")
        for (key, _, value) in entries {
            switch key {
            case "cooldown": escalation.cooldown = source.duration(value, what: "escalation.cooldown") ?? escalation.cooldown
            case "fallback_after": escalation.fallbackAfter = source.integer(value, what: "escalation.fallback_after", range: 1...100) ?? escalation.fallbackAfter
            case "retry":
                guard let retry = source.entries(value, what: "escalation.retry") else { break }
                source.rejectUnknownKeys(retry, allowed: ["min", "max"], in: "escalation.retry")
                for (bound, _, node) in retry {
                    guard let duration = source.duration(node, what: "escalation.retry.\(bound)") else { continue }
                    if bound == "min" { escalation.retryMin = duration } else { escalation.retryMax = duration }
                }
                if escalation.retryMax < escalation.retryMin { source.error(value, "escalation.retry.max is shorter than min: make max at least min") }
            case "fallback":
                guard let pairs = source.entries(value, what: "escalation.fallback") else { break }
                for (channel, keyNode, target) in pairs {
                    guard let name = source.string(target, what: "escalation.fallback.\(channel)") else { continue }
                    if name == channel { source.error(keyNode, "channel '\(channel)' cannot fall back to itself: name another channel") }
                    escalation.fallback[channel] = name
                    escalationReferences.append((channel, keyNode))
                    escalationReferences.append((name, target))
                }
            case "levels":
                guard let levels = source.entries(value, what: "escalation.levels") else { break }
                for (number, keyNode, levelNode) in levels {
                    guard let level = Int(number), (1...4).contains(level) else {
                        source.error(keyNode, "escalation level '\(number)' is not 1, 2, 3 or 4")
                        continue
                    }
                    guard let fields = source.entries(levelNode, what: "escalation.levels.\(level)") else { continue }
                    source.rejectUnknownKeys(fields, allowed: ["channels", "climb_after"], in: "escalation.levels.\(level)")
                    var settings = EscalationPolicy.Level()
                    for (field, _, node) in fields {
                        if field == "climb_after" {
                            if level == 4 { source.error(node, "level 4 has nowhere to climb: remove climb_after"); continue }
                            if level == 3 { source.error(node, "level 3 does not climb by itself: level 4 (emergency-recovery) needs a person's confirmation (`runbook reset ID --confirm`)"); continue }
                            settings.climbAfter = source.duration(node, what: "climb_after")
                        } else if level == 1 {
                            source.error(node, "level 1 tells nobody (it is the check's own runbook at work): name channels under level 2")
                        } else {
                            let items = node.sequence ?? [node]
                            settings.channels = items.compactMap { item in
                                guard let name = source.string(item, what: "a channel name") else { return nil }
                                escalationReferences.append((name, item))
                                return name
                            }
                        }
                    }
                    escalation.levels[level] = settings
                }
            default: break
            }
        }
        return escalationReferences
    }

    /// Reports channel names the escalation policy uses that `channels:` does not define.
    func checkChannelReferences(_ references: [(String, Node)], _ source: inout YAMLSource) {
        let defined = channels.map(\.name)
        for (name, node) in references where !defined.contains(name) {
            source.error(node, "no channel named '\(name)'\(Suggestion.hint(for: name, in: defined)); define it under channels:")
        }
    }
}
