import Foundation
import RunbookCore
import RunbookEscalation
import RunbookExecutor
import RunbookModel
import RunbookPostgres
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
    func aChannelsHeadIsTakenForSendingOnlyWhenDueAndInTurn(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let store = try await place.open().incidents
        #expect(try await store.claimOutboxHead(channel: "telegram", at: At.seconds(5)) == .empty)
        try await store.enqueue([message("telegram", at: 1), message("telegram", sequence: 2, at: 2)])
        guard case .notDue(let early) = try await store.claimOutboxHead(channel: "telegram", at: At.seconds(0)) else {
            Issue.record("a message queued at 1 s is not due at 0 s")
            return
        }
        #expect(early.state == .pending && early.attempts == 0)
        guard case .claimed(var first) = try await store.claimOutboxHead(channel: "telegram", at: At.seconds(5)) else {
            Issue.record("the head is taken once due")
            return
        }
        #expect(first.createdAt == At.seconds(1) && first.state == .sending && first.attempts == 1)
        #expect(try await store.outbox(states: [.sending], limit: 10).map(\.id) == [first.id], "the claim is in the records")
        // Its outcome could not be written: this process takes it again rather than the next.
        guard case .claimed(let again) = try await store.claimOutboxHead(channel: "telegram", at: At.seconds(6)) else {
            Issue.record("the sender takes its own message again")
            return
        }
        #expect(again.id == first.id && again.attempts == 2)
        first.state = .delivered
        first.attempts = 2
        first.deliveredAt = At.seconds(6)
        try await store.updateOutbox(first)
        guard case .claimed(let second) = try await store.claimOutboxHead(channel: "telegram", at: At.seconds(7)) else {
            Issue.record("then the next")
            return
        }
        #expect(second.createdAt == At.seconds(2))
    }

    /// Two engines sharing PostgreSQL records, each claiming a channel's head many times at once:
    /// one of them takes it, the other is told it is being sent elsewhere, and the message behind
    /// it is not taken out of turn.
    @Test func twoEnginesClaimingAtOnceNeverBothTakeAMessage() async throws {
        let place = try await RecordsPlace(.postgresql)
        defer { place.remove() }
        let a = try await PostgresRecords.open(url: PostgresURL(place.url!), engine: "engine-a")
        let b = try await PostgresRecords.open(url: PostgresURL(place.url!), engine: "engine-b")
        defer {
            a.close()
            b.close()
        }
        for round in 0..<5 {
            try await a.incidents.enqueue([message("telegram", sequence: 2 * round + 1, at: 1), message("telegram", sequence: 2 * round + 2, at: 2)])
            let claims = await withTaskGroup(of: (String, OutboxClaim?).self) { group in
                for index in 0..<20 {
                    let (name, store) = index % 2 == 0 ? ("engine-a", a.incidents) : ("engine-b", b.incidents)
                    group.addTask { (name, try? await store.claimOutboxHead(channel: "telegram", at: At.seconds(5))) }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let takers = Set(claims.compactMap { name, claim -> String? in if case .claimed = claim { name } else { nil } })
            #expect(takers.count == 1, "one engine takes the head: \(claims)")
            let claimedIDs = Set(claims.compactMap { _, claim -> Int64? in if case .claimed(let entry) = claim { entry.id } else { nil } })
            #expect(claimedIDs.count == 1, "only the head, never the message behind it")
            #expect(claims.allSatisfy { $0.1 != nil }, "no claim failed")
            // Delivered, and the next round starts on a fresh pair.
            for entry in try await a.incidents.outbox(states: [.pending, .sending], limit: 10) {
                var done = entry
                done.state = .delivered
                try await a.incidents.updateOutbox(done)
            }
        }
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
    func maintenanceWindowsAreKeptAsMadeAndRemovedByID(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let store = try await place.open().incidents
        #expect(try await store.windows().isEmpty)
        let weekly = MaintenanceWindow(
            target: "tick-lag", recurrence: try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Europe/London", during: nil),
            reason: "broker maintenance", by: "alice", createdAt: At.seconds(0), holdRuns: true, atEnd: .drop
        )
        let weekend = MaintenanceWindow(target: "all", recurrence: .during(.weekend), reason: "weekend", by: "bob", createdAt: At.seconds(5))
        let first = try await store.addWindow(weekly)
        let second = try await store.addWindow(weekend)
        #expect(first.id > 0 && second.id > first.id)
        var expected = [weekly, weekend]
        (expected[0].id, expected[1].id) = (first.id, second.id)
        #expect(try await store.windows() == expected)
        #expect(try await store.removeWindow(first.id))
        #expect(try await !store.removeWindow(first.id))
        #expect(try await store.windows() == [expected[1]])
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
