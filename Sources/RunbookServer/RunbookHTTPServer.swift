import Foundation
import Hummingbird
import Logging
import RunbookChecks
import RunbookCore
import RunbookModel
import ServiceLifecycle
import Synchronization

/// The HTTP server of `runbook up`: health endpoints, `/metrics`, the JSON API under `/api` and
/// the dashboard at `/`. A service of the engine's service group.
public struct RunbookHTTPServer: Service {
    public let settings: HTTPSettings
    let token: String?
    let backend: ServerBackend
    public let metrics: EngineMetrics
    let rates: LiveRates
    let snapshots: SnapshotCache
    /// The incident and outbox gauges are read from the records no more often than the
    /// engine's state, however often `/metrics` is scraped.
    let incidentGauges: Throttle
    let logger: Logger

    /// `token` is the value of the variable `settings.tokenVariable` names; nil or empty when
    /// none is set, and then every mutating call is refused.
    /// The engine's state is read at most once per `snapshotMaxAge` (working it out reads /proc
    /// for every port), however many requests come.
    public init(
        settings: HTTPSettings, token: String?, backend: ServerBackend, metrics: EngineMetrics = EngineMetrics(),
        snapshotMaxAge: Duration = .milliseconds(500), logger: Logger = Logger(label: "runbook.http")
    ) {
        self.settings = settings
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.backend = backend
        self.metrics = metrics
        self.rates = LiveRates()
        self.snapshots = SnapshotCache(maxAge: snapshotMaxAge)
        self.incidentGauges = Throttle(every: snapshotMaxAge)
        self.logger = logger
    }

    /// A start that cannot go on, said for the operator.
    public struct StartFailure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Refuses a configuration that would put the API on the network with no token: someone else
    /// could read it, and no one could be told apart.
    public static func checkSettings(_ settings: HTTPSettings, token: String?) throws(StartFailure) {
        if !settings.isLoopback, (token ?? "").isEmpty {
            throw StartFailure(description: """
                http.listen \(settings.listen) is not a loopback address and no API token is set: set \(settings.tokenVariable) in the \
                engine's environment (for example from a systemd EnvironmentFile) or listen on 127.0.0.1
                """)
        }
    }

    /// The router with every route, for the live server and for tests.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: HostMiddleware(settings: settings))
        router.add(middleware: TokenMiddleware(token: token, variable: settings.tokenVariable))
        let routes = RouteRegistrar(router: router)
        addRoutes(to: routes)
        return router
    }

    /// Every route: method and path, in the order they were added.
    public func routeList() -> [(method: HTTPRequest.Method, path: String)] {
        let routes = RouteRegistrar(router: Router(context: BasicRequestContext.self))
        addRoutes(to: routes)
        return routes.added
    }

    public func application() -> some ApplicationProtocol {
        Application(
            router: router(),
            // A connection with no request in it for idleTimeout is closed, so idle ones cannot pile up.
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(Self.nanoseconds(settings.idleTimeout)))),
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "runbook"),
            logger: logger
        )
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    public func run() async throws {
        let app = application()
        let engine = backend.engine
        let rates = self.rates
        let snapshots = self.snapshots
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.run() }
            // Samples the counters each second so rates and the ticks chart have a history.
            group.addTask {
                await cancelWhenGracefulShutdown {
                    while !Task.isCancelled {
                        if let snapshot = try? await snapshots.get(engine) { rates.sample(snapshot) }
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
        }
    }

    /// Fails with the port and who holds it when the address cannot be bound, so `runbook up`
    /// stops before it starts anything.
    public static func checkAvailable(_ settings: HTTPSettings) throws(StartFailure) {
        switch PortCheck.bind(host: settings.host, port: settings.port) {
        case .free: return
        case .inUse:
            let holder = Listeners.holder(of: settings.port).map { " (held by \($0))" } ?? ""
            throw StartFailure(description: """
                cannot start the HTTP server: port \(settings.port) is already in use on \(settings.host)\(holder); stop the other program or \
                change http.listen in runbook.yaml
                """)
        case .failed(let reason):
            throw StartFailure(description: "cannot start the HTTP server on \(settings.listen): \(reason); change http.listen in runbook.yaml")
        }
    }
}

/// Adds routes to the router and keeps their list, so that tests can go through every one.
final class RouteRegistrar {
    let router: Router<BasicRequestContext>
    var added: [(method: HTTPRequest.Method, path: String)] = []

    init(router: Router<BasicRequestContext>) {
        self.router = router
    }

    func on(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response
    ) {
        added.append((method, path))
        router.on(RouterPath(path), method: method, use: handler)
    }
}

/// Says yes at most once per `every` (always when `every` is zero).
final class Throttle: Sendable {
    let every: Duration
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    init(every: Duration) {
        self.every = every
    }

    func due() -> Bool {
        last.withLock { last in
            let now = ContinuousClock.now
            if let last, every > .zero, now - last < every { return false }
            last = now
            return true
        }
    }
}

/// The engine's last snapshot, reused while it is younger than `maxAge`. One request at a time
/// reads a new one; the others meanwhile get the last, so a burst never reads it many times.
final class SnapshotCache: Sendable {
    let maxAge: Duration
    private struct State {
        var at: ContinuousClock.Instant?
        var snapshot: EngineSnapshot?
        var reading = false
    }
    private let state = Mutex(State())

    init(maxAge: Duration) {
        self.maxAge = maxAge
    }

    func get(_ engine: any EngineControl) async throws -> EngineSnapshot {
        let cached = state.withLock { state -> EngineSnapshot? in
            guard maxAge > .zero, let snapshot = state.snapshot, let at = state.at else { return nil }
            if ContinuousClock.now - at < maxAge || state.reading { return snapshot }
            state.reading = true
            return nil
        }
        if let cached { return cached }
        do {
            let snapshot = try await engine.snapshot()
            state.withLock { $0 = State(at: .now, snapshot: snapshot, reading: false) }
            return snapshot
        } catch {
            state.withLock { $0.reading = false }
            throw error
        }
    }
}
