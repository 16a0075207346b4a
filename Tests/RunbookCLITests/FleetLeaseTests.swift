import Foundation
import Logging
import RunbookCore
import RunbookEngine
import RunbookPostgres
import RunbookTestSupport
import Synchronization
import Testing

/// The lease when the network between the leader and the database is cut: the leader stops
/// counting itself leader before another engine can take the lease, so that two engines never do
/// a leader's duties at once.
@Suite struct FleetLeaseTests {
    static func beat(_ name: String) -> EngineBeat {
        EngineBeat(name: name, host: "test", pid: getpid(), version: Release.version, startedAt: Date(), flowsUp: 0, flowsTotal: 0)
    }

    @Test func aLeaderCutOffFromTheDatabaseStopsLeadingBeforeTheStandbyTakesOver() async throws {
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        // engine-a reaches the database through a proxy the test can stop; engine-b directly.
        let proxy = try CuttableProxy(to: server.port)
        let proxied = proxy.through(url)
        let a = try await PostgresRecords.open(url: PostgresURL(proxied), engine: "engine-a")
        let b = try await PostgresRecords.open(url: PostgresURL(url), engine: "engine-b")
        defer {
            a.close()
            b.close()
        }
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let ttl = Duration.seconds(6)
        let leaderA = LeaseKeeper(store: a.fleet, engine: "engine-a", ttl: ttl, clock: ContinuousClock(), logger: quiet) { Self.beat("engine-a") }
        let leaderB = LeaseKeeper(store: b.fleet, engine: "engine-b", ttl: ttl, clock: ContinuousClock(), logger: quiet) { Self.beat("engine-b") }
        await leaderA.round()
        await leaderB.round()
        #expect(leaderA.isLeading)
        #expect(!leaderB.isLeading)

        // Each keeps its place as `runbook up` does; the test watches both every 10 ms.
        let rounds = Task {
            await withTaskGroup(of: Void.self) { group in
                for keeper in [leaderA, leaderB] {
                    group.addTask {
                        while !Task.isCancelled {
                            await keeper.round()
                            try? await Task.sleep(for: ttl / 3)
                        }
                    }
                }
            }
        }
        defer { rounds.cancel() }
        try await Task.sleep(for: .seconds(2))
        // On a loaded machine a renewal can miss its bound and A steps down, then leads again:
        // the cut is made while it leads.
        #expect(await eventually(within: .seconds(20)) { leaderA.isLeading && !leaderB.isLeading }, "renewed while the network is up")
        proxy.cut()
        let cut = ContinuousClock.now
        var aStopped: ContinuousClock.Instant?
        var bLeads: ContinuousClock.Instant?
        while bLeads == nil, ContinuousClock.now - cut < .seconds(15) {
            if aStopped == nil, !leaderA.isLeading { aStopped = ContinuousClock.now }
            if leaderB.isLeading { bLeads = ContinuousClock.now }
            #expect(!(leaderA.isLeading && leaderB.isLeading), "never two leaders at once")
            try await Task.sleep(for: .milliseconds(10))
        }
        let stopped = try #require(aStopped, "the leader cut off stopped leading")
        let took = try #require(bLeads, "the standby took over")
        #expect(stopped < took)
        #expect(took - cut < ttl + ttl / 3 + .seconds(1), "the standby leads within the lease and one try: \(took - cut)")
        print("network cut: leader stopped \(stopped - cut) after the cut, standby led \(took - cut) after it (lease_ttl 6s)")

        // The network back, the engine that was cut off stands by.
        proxy.restore()
        try await Task.sleep(for: .seconds(3))
        #expect(await eventually(within: .seconds(10)) { !leaderA.isLeading && leaderB.isLeading }, "the standby keeps the lead")
    }

    @Test func twoEnginesGivenOneNameAreToldOfEachOtherButAKilledPredecessorIsNot() async throws {
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let a = try await PostgresRecords.open(url: PostgresURL(url), engine: "twin")
        let b = try await PostgresRecords.open(url: PostgresURL(url), engine: "twin")
        defer {
            a.close()
            b.close()
        }
        func beat(pid: Int32) -> EngineBeat {
            EngineBeat(name: "twin", host: "host-1", pid: pid, version: Release.version, startedAt: Date(), flowsUp: 0, flowsTotal: 0)
        }
        // A killed engine's row, then the engine started again: its first beat finds another pid.
        #expect(try await a.fleet.beat(beat(pid: 100)) == nil)
        #expect(try await b.fleet.beat(beat(pid: 200)) == nil, "the first beat after a kill is no twin")
        #expect(try await b.fleet.beat(beat(pid: 200)) == nil, "nobody else beats")
        // The first is alive after all: each now finds the other's beat.
        #expect(try await a.fleet.beat(beat(pid: 100)) == "host-1 pid 200")
        #expect(try await b.fleet.beat(beat(pid: 200)) == "host-1 pid 100")
    }
}
