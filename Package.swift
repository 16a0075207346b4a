// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "runbook",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "runbook", targets: ["runbook"]),
        .executable(name: "runbook-bench", targets: ["RunbookBench"]),
        .executable(name: "runbook-fuzz", targets: ["RunbookFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/pointfreeco/swift-clocks.git", from: "1.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The shared vocabulary: service kinds and states, run and step statuses, severities, and
        // the engine as checks, steps and the server see it (EngineControl and its snapshots).
        .target(name: "RunbookCore"),
        // Domain model: runbook documents, validation with source locations, expressions.
        .target(
            name: "RunbookModel",
            dependencies: ["RunbookCore", .product(name: "Yams", package: "Yams")]
        ),
        // Step primitives that need nothing beyond the operating system.
        .target(
            name: "RunbookSteps",
            dependencies: [
                "RunbookModel", "RunbookStore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Runs a runbook's steps with their controls and reports to a recorder.
        .target(
            name: "RunbookExecutor",
            dependencies: ["RunbookModel", "RunbookSteps", .product(name: "Logging", package: "swift-log")]
        ),
        // Schedules: fire times (cron in a time zone, market-relative), catch-up and overlap, the service.
        .target(
            name: "RunbookScheduler",
            dependencies: [
                "RunbookModel", "RunbookExecutor",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Escalation: incidents, levels, the escalation policy, the durable outbox and its worker,
        // and the channel protocol the adapters implement.
        .target(
            name: "RunbookEscalation",
            dependencies: [
                "RunbookModel", "RunbookSteps", "RunbookExecutor", "RunbookChecks",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // SQLite adapter: run records, the scheduler's state, and the `sql` and `backup` primitives.
        .target(
            name: "RunbookSQLite",
            dependencies: [
                "RunbookModel", "RunbookSteps", "RunbookExecutor", "RunbookFlows", "RunbookStore", "RunbookChecks", "RunbookScheduler", "RunbookEscalation",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // PostgreSQL adapter on PostgresNIO's pooled client: the scale-out tick store, and records
        // several engines share.
        .target(
            name: "RunbookPostgres",
            dependencies: [
                "RunbookStore", "RunbookModel", "RunbookSteps", "RunbookCore", "RunbookExecutor", "RunbookFlows", "RunbookChecks", "RunbookScheduler",
                "RunbookEscalation",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libcurl through a thin system-library target with typed shims. Its headers are in the
        // default include path; pkg-config would add Kerberos include flags SwiftPM refuses.
        .systemLibrary(
            name: "CCurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "RunbookCurl",
            dependencies: [
                "CCurl", "RunbookModel", "RunbookSteps", "RunbookChecks", "RunbookEscalation",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // libzmq through a thin system-library target with typed shims, and a small safe layer.
        // As for libcurl, no pkg-config: its flags carry Kerberos include paths SwiftPM refuses.
        .systemLibrary(
            name: "CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(name: "RunbookZMQ", dependencies: ["CZeroMQ"]),
        // The live ZeroMQ flows of the trading back end.
        .target(name: "RunbookFlows", dependencies: ["RunbookCore", "RunbookZMQ", .product(name: "Logging", package: "swift-log")]),
        // sd_notify for systemd's readiness and watchdog.
        .systemLibrary(name: "CSystemd", providers: [.apt(["libsystemd-dev"])]),
        // Simulated EAs and signal engine, for machines without MT5.
        .target(name: "RunbookSimulator", dependencies: ["RunbookFlows", "RunbookZMQ", .product(name: "Logging", package: "swift-log")]),
        // Tick storage: bars aligned as MT5 aligns them, batching, the disk spool, the store protocol.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "RunbookStore", dependencies: ["CZlib", .product(name: "Logging", package: "swift-log")]),
        // The kernel's socket diagnostics, for which TCP ports listen (Linux headers only).
        .systemLibrary(name: "CSockDiag"),
        // Health checks: probes, thresholds with hysteresis, the guardian that triggers runbooks,
        // and the primitives that act on the engine.
        .target(
            name: "RunbookChecks",
            dependencies: [
                "RunbookModel", "RunbookSteps", "RunbookExecutor", "CSockDiag",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Supervision of the engine's services and programs, and the engine that runs them.
        .target(
            name: "RunbookEngine",
            dependencies: [
                "RunbookModel", "RunbookCore", "RunbookChecks", "RunbookFlows", "RunbookZMQ", "RunbookStore", "CSystemd",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HTTP: health endpoints, Prometheus metrics, the JSON API and the dashboard. It sees the
        // engine only through the snapshot and control closures and the incident desk RunbookCLI
        // hands it.
        .target(
            name: "RunbookServer",
            dependencies: [
                "RunbookModel", "RunbookExecutor", "RunbookChecks", "RunbookFlows", "RunbookEscalation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The application: what this build offers (the catalog of steps and probes) and the parts
        // a command assembles from the configuration.
        .target(
            name: "RunbookApp",
            dependencies: [
                "RunbookModel", "RunbookSteps", "RunbookExecutor", "RunbookChecks", "RunbookCurl", "RunbookSQLite", "RunbookEngine", "RunbookEscalation",
                "RunbookStore", "RunbookFlows", "RunbookScheduler", "RunbookServer", "RunbookPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Command line: subcommands, configuration, progress output.
        .target(
            name: "RunbookCLI",
            dependencies: [
                "RunbookModel", "RunbookSteps", "RunbookExecutor", "RunbookSQLite", "RunbookCurl", "RunbookChecks",
                "RunbookFlows", "RunbookZMQ", "RunbookEngine", "RunbookSimulator", "RunbookStore", "RunbookScheduler", "RunbookEscalation",
                "RunbookServer", "RunbookApp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "runbook", dependencies: ["RunbookCLI"]),
        .executableTarget(
            name: "RunbookBench",
            dependencies: [
                "RunbookModel", "RunbookSteps", "RunbookExecutor", "RunbookSQLite", "RunbookApp", "RunbookZMQ",
                "RunbookStore", "RunbookFlows", "RunbookSimulator", "RunbookChecks", "RunbookScheduler", "RunbookPostgres", "RunbookTestSupport",
                "RunbookCore", "RunbookEngine", "RunbookEscalation",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Baselines"]
        ),
        // The input paths under libFuzzer (Scripts/fuzz): what each must hold for any bytes.
        .target(name: "RunbookFuzzing", dependencies: ["RunbookModel", "RunbookFlows", "RunbookSteps", "RunbookChecks", "RunbookStore", "RunbookEscalation", "RunbookCurl"]),
        .executableTarget(name: "RunbookFuzz", dependencies: ["RunbookFuzzing"]),
        // Helpers the test targets share.
        .target(
            name: "RunbookTestSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/RunbookTestSupport"
        ),
        .testTarget(name: "RunbookZMQTests", dependencies: ["RunbookZMQ"]),
        .testTarget(name: "RunbookFuzzingTests", dependencies: ["RunbookFuzzing"]),
        .testTarget(
            name: "RunbookChecksTests",
            dependencies: [
                "RunbookChecks", "RunbookSQLite", "RunbookFlows", "RunbookApp", "RunbookSteps", "RunbookExecutor", "RunbookTestSupport",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RunbookEscalationTests",
            dependencies: ["RunbookEscalation", "RunbookModel", "RunbookSQLite", "RunbookApp", "RunbookEngine", "RunbookTestSupport", .product(name: "Clocks", package: "swift-clocks")]
        ),
        .testTarget(
            name: "RunbookEngineTests",
            dependencies: ["RunbookEngine", "RunbookChecks", "RunbookFlows", "RunbookZMQ", "RunbookTestSupport", .product(name: "Clocks", package: "swift-clocks")]
        ),
        // One suite per storage port, written against the protocol and run on every backend.
        .testTarget(
            name: "RunbookStoreConformanceTests",
            dependencies: [
                "RunbookExecutor", "RunbookFlows", "RunbookChecks", "RunbookScheduler", "RunbookEscalation", "RunbookStore", "RunbookSQLite", "RunbookPostgres",
                "RunbookModel", "RunbookCore", "RunbookTestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RunbookStoreTests",
            dependencies: ["RunbookStore", "RunbookSQLite", "RunbookPostgres", "RunbookTestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "RunbookFlowsTests",
            dependencies: ["RunbookFlows", "RunbookSQLite", "RunbookZMQ", "RunbookTestSupport", .product(name: "Logging", package: "swift-log")],
            exclude: ["Peers"]
        ),
        .testTarget(name: "RunbookModelTests", dependencies: ["RunbookModel", "RunbookApp"], exclude: ["Fixtures"]),
        .testTarget(
            name: "RunbookStepsTests",
            dependencies: [
                "RunbookSteps", "RunbookSQLite", "RunbookCurl", "RunbookApp", "RunbookTestSupport",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "RunbookExecutorTests",
            dependencies: [
                "RunbookExecutor", "RunbookSQLite", "RunbookApp", "RunbookTestSupport",
                .product(name: "Clocks", package: "swift-clocks"),
            ]
        ),
        .testTarget(
            name: "RunbookSchedulerTests",
            dependencies: [
                "RunbookScheduler", "RunbookModel", "RunbookExecutor", "RunbookSQLite", "RunbookApp", "RunbookTestSupport",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RunbookServerTests",
            dependencies: [
                "RunbookServer", "RunbookModel", "RunbookExecutor", "RunbookChecks", "RunbookFlows", "RunbookApp", "RunbookSQLite", "RunbookEscalation",
                "RunbookTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        // The notification channels against real peers on loopback (an HTTP server, aiosmtpd).
        .testTarget(
            name: "RunbookChannelsTests",
            dependencies: ["RunbookCurl", "RunbookEscalation", "RunbookModel", "RunbookTestSupport"],
            exclude: ["Peers"]
        ),
        // End to end through the built `runbook` executable.
        .testTarget(
            name: "RunbookCLITests",
            dependencies: [
                "runbook", "RunbookCLI", "RunbookModel", "RunbookSimulator", "RunbookSQLite", "RunbookPostgres", "RunbookStore", "RunbookTestSupport",
                "RunbookCore", "RunbookEngine",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["Peers"]
        ),
    ]
)
