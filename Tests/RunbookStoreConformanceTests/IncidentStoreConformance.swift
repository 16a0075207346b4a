import Foundation
import RunbookCore
import RunbookEscalation
import RunbookExecutor
import Testing

/// What every IncidentStore must do: one unresolved incident per key, changes that never pass
/// each other, timelines in order, and an outbox whose channels send in order.
@Suite struct IncidentStoreConformance {
    func opening(_ key: String, check: String? = "tick-lag", at offset: Double = 0, messages: [OutboxEntry] = []) -> IncidentChange {
        let incident = Incident(key: key, check: check, subject: "ea-01", title: "\(key) is critical", severity: .critical, level: 1, openedAt: At.seconds(offset))
        return IncidentChange(
            incident: incident, events: [IncidentEvent(at: At.seconds(offset), kind: .opened, actor: "guardian", detail: "critical", level: 1)], messages: messages
        )
    }

    func message(_ channel: String, incident: Int64 = 0, sequence: Int = 1, severity: String = "critical", at offset: Double = 0) -> OutboxEntry {
        OutboxEntry(
            incidentID: incident, sequence: sequence, channel: channel, level: 2, severity: severity, subject: "incident \(Incident.idPlaceholder): lag",
            body: "see incident \(Incident.idPlaceholder)", createdAt: At.seconds(offset)
        )
    }

    @Test(arguments: RecordsBackend.allCases)
    func oneUnresolvedIncidentPerKeyAndChangesNeverPassEachOther(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let store = try await place.open().incidents
        let opened = try await store.apply(opening("check:tick-lag", messages: [message("telegram")]))
        #expect(opened.id > 0)
        #expect(opened.version == 1)
        await #expect(throws: IncidentConflict.self, "a second open incident for the same key") { try await store.apply(opening("check:tick-lag", at: 5)) }
        #expect(try await store.unresolvedIncident(key: "check:tick-lag")?.id == opened.id)

        // Two writers start from version 1; the second one's change is refused.
        var acknowledged = opened
        acknowledged.status = .acknowledged
        acknowledged.acknowledgedBy = "alice"
        acknowledged.acknowledgedAt = At.seconds(10)
        let stored = try await store.apply(IncidentChange(incident: acknowledged, events: [IncidentEvent(at: At.seconds(10), kind: .acknowledged, actor: "alice", detail: "", level: 1)]))
        #expect(stored.version == 2)
        var stale = opened
        stale.level = 2
        await #expect(throws: IncidentConflict.self) { try await store.apply(IncidentChange(incident: stale)) }
        let read = try #require(try await store.incident(opened.id))
        #expect(read.status == .acknowledged)
        #expect(read.acknowledgedBy == "alice")
        #expect(read.level == 1)
        #expect(try await store.events(of: opened.id).map(\.kind) == [.opened, .acknowledged])
        #expect(try await store.events(of: opened.id).map(\.actor) == ["guardian", "alice"])

        // Once resolved, the key is free for the next incident.
        var resolved = read
        resolved.status = .resolved
        resolved.resolvedAt = At.seconds(20)
        _ = try await store.apply(IncidentChange(incident: resolved))
        #expect(try await store.unresolvedIncident(key: "check:tick-lag") == nil)
        let next = try await store.apply(opening("check:tick-lag", at: 30))
        #expect(next.id != opened.id)
        #expect(try await store.unresolvedIncidents().map(\.id) == [next.id])
        #expect(try await store.incidents(limit: 10).map(\.id) == [next.id, opened.id])
        #expect(try await store.incidents(status: .resolved, limit: 10).map(\.id) == [opened.id])
    }

    @Test(arguments: RecordsBackend.allCases)
    func anIncidentsFirstMessagesCarryItsIdAndSayWhichChannelsWereTold(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let store = try await place.open().incidents
        let incident = try await store.apply(opening("check:bridge", check: "bridge", messages: [message("telegram"), message("email", sequence: 2)]))
        let queued = try await store.outbox(incident: incident.id)
        #expect(queued.map(\.channel) == ["telegram", "email"])
        #expect(queued.map(\.incidentID) == [incident.id, incident.id])
        #expect(queued.first?.subject == "incident \(incident.id): lag")
        #expect(queued.first?.body == "see incident \(incident.id)")
        #expect(try await store.channelsNotified(incident: incident.id) == ["telegram", "email"])
        let last = try #require(try await store.lastNotification(key: "check:bridge"))
        #expect(last.severity == .critical)
        #expect(last.at == At.seconds(0))
        #expect(try await store.lastNotification(key: "check:other") == nil)
    }

    @Test(arguments: RecordsBackend.allCases)
    func aLeaderTakingOverSendsAgainWhatItsDeadPredecessorWasSendingMarkedAsAPossibleDuplicate(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let store = try await place.open().incidents
        try await store.enqueue([message("telegram", at: 1), message("telegram", sequence: 2, at: 2)])
        var sending = try #require(try await store.outboxHead(channel: "telegram"))
        sending.state = .sending
        sending.attempts = 1
        try await store.updateOutbox(sending)
        #expect(try await store.resendInterruptedSends() == 1)
        let again = try #require(try await store.outboxHead(channel: "telegram"))
        #expect(again.id == sending.id, "first in its channel still")
        #expect(again.state == .pending)
        #expect(again.subject == "possible duplicate: " + sending.subject)
        #expect(try await store.resendInterruptedSends() == 0, "only what was being sent")
        #expect(try await store.outbox(states: [.pending], limit: 10).count == 2)
    }

    @Test(arguments: RecordsBackend.allCases)
    func eachChannelSendsInOrderAndAMessageCanBeDivertedOrResent(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let store = try await place.open().incidents
        try await store.enqueue([message("telegram", at: 1), message("email", at: 2), message("telegram", sequence: 2, at: 3)])
        var head = try #require(try await store.outboxHead(channel: "telegram"))
        #expect(head.createdAt == At.seconds(1))
        #expect(try await store.outboxDepth() == [OutboxDepth(channel: "email", state: .pending, count: 1), OutboxDepth(channel: "telegram", state: .pending, count: 2)])

        head.state = .delivered
        head.attempts = 1
        head.deliveredAt = At.seconds(4)
        try await store.updateOutbox(head)
        #expect(try await store.outboxHead(channel: "telegram")?.createdAt == At.seconds(3), "the next message of the channel")

        // A message left sending by a stopped engine is uncertain, not sent again by itself.
        var sending = try #require(try await store.outboxHead(channel: "telegram"))
        sending.state = .sending
        try await store.updateOutbox(sending)
        #expect(try await store.markInterruptedSends() == 1)
        #expect(try await store.outboxHead(channel: "telegram") == nil)
        #expect(try await store.outbox(states: [.uncertain], limit: 10).map(\.id) == [sending.id])

        // Diverted to another channel: the copy goes out there, the original is kept as diverted.
        let email = try #require(try await store.outboxHead(channel: "email"))
        try await store.divert(email, to: "telegram", reason: "smtp refused", at: At.seconds(5))
        #expect(try await store.outboxHead(channel: "email") == nil)
        let copy = try #require(try await store.outboxHead(channel: "telegram"))
        #expect(copy.fallbackOf == email.id)
        #expect(copy.subject == email.subject)
        #expect(try await store.outbox(states: [.diverted], limit: 10).map(\.id) == [email.id])

        #expect(try await store.resend(sending.id, at: At.seconds(6))?.state == .pending)
        #expect(try await store.outbox(states: [.pending], limit: 10).map(\.id) == [sending.id, copy.id])
        #expect(try await store.resend(head.id, at: At.seconds(7))?.state == .delivered, "a delivered message is not sent again")
        #expect(try await store.resend(9999, at: At.seconds(7)) == nil)
    }

    @Test(arguments: RecordsBackend.allCases)
    func silencesLastUntilTheirEnd(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let store = try await place.open().incidents
        let silence = try await store.addSilence(Silence(check: "tick-lag", until: At.seconds(3600), reason: "broker maintenance", by: "alice", createdAt: At.seconds(0)))
        #expect(silence.id > 0)
        #expect(try await store.silences(activeAt: At.seconds(10)).map(\.check) == ["tick-lag"])
        #expect(try await store.silences(activeAt: At.seconds(10)).first?.reason == "broker maintenance")
        #expect(try await store.silences(activeAt: At.seconds(3600)).isEmpty)
    }

    @Test(arguments: RecordsBackend.allCases)
    func aRunStartedByACheckIsTracedToItThroughItsParents(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let records = try await place.open()
        let parent = try await records.runs.startRun(RunStart(
            runbook: "restart-bridge", contentHash: "h", trigger: .check, origin: RunOrigin(source: "bridge-down"), params: [:], parentRunID: nil, startedAt: At.seconds(0)
        ))
        let child = try await records.runs.startRun(RunStart(runbook: "notify", contentHash: "h", trigger: .runbook, params: [:], parentRunID: parent, startedAt: At.seconds(1)))
        let manual = try await records.runs.startRun(RunStart(runbook: "notify", contentHash: "h", trigger: .manual, params: [:], parentRunID: nil, startedAt: At.seconds(2)))
        #expect(try await records.incidents.checkOfRun(child) == "bridge-down")
        #expect(try await records.incidents.checkOfRun(parent) == "bridge-down")
        #expect(try await records.incidents.checkOfRun(manual) == nil)
    }
}
