import Logging
import ServiceLifecycle

/// Climbs unacknowledged incidents on time: asks the desk each `interval`.
public struct IncidentClock<C: Clock>: Service where C.Duration == Duration {
    let desk: IncidentDesk
    let clock: C
    let interval: Duration

    public init(desk: IncidentDesk, clock: C, interval: Duration = .seconds(1)) {
        self.desk = desk
        self.clock = clock
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await desk.tick()
                } catch {
                    desk.logger.error("cannot climb incidents: \(error)")
                }
                do { try await clock.sleep(for: interval) } catch { return }
            }
        }
    }
}
