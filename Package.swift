// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
        .library(name: "Agent", targets: ["Agent"]),
        .library(name: "Telemetry", targets: ["Telemetry"]),
        .library(name: "Detection", targets: ["Detection"]),
        .library(name: "MicroLM", targets: ["MicroLM"]),
        .library(name: "Narration", targets: ["Narration"]),
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "Outbox", targets: ["Outbox"]),
        // Counts heap allocations when preloaded (LD_PRELOAD) into `vigil bench detect`'s own re-run;
        // no shipped binary links it.
        .library(name: "VigilAllocationCounter", type: .dynamic, targets: ["CAllocationCounter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        // Ed25519 signatures and SHA-256 of model bundles (ModelBundle).
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // C libraries from Debian's packages.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        // Readings, the sensor catalog, payload decoders, recorded logs. No I/O beyond files.
        .target(
            name: "Telemetry",
            dependencies: ["VigilSupport", .product(name: "Yams", package: "Yams")]
        ),
        // A deterministic simulation of the demo plant with labelled faults (`vigil simulate`).
        .target(name: "Simulation", dependencies: ["Telemetry"]),
        // The floor every module may stand on: the one lock wrapper, the one JSON string writer, loopback ports,
        // the name a damaged file is moved aside to.
        .target(name: "VigilSupport"),
        // Counts heap allocations (malloc family forwarding to glibc's): linked into the scale
        // benchmark, preloaded into `vigil bench detect`; never into the agent.
        .target(name: "CAllocationCounter"),
        // Streaming detectors and event assembly.
        .target(name: "Detection", dependencies: ["Telemetry"]),
        // Large-catalog micro-benchmark of the detector (`detect-scale-bench N rounds`; no broker).
        .executableTarget(name: "DetectScaleBench", dependencies: ["Detection", "Telemetry", "VigilSupport", "CAllocationCounter"]),
        // The on-device language model engine.
        .target(name: "MicroLM", dependencies: ["CMicroLMKernels", .product(name: "Logging", package: "swift-log")]),
        // MicroLM's SIMD kernels and thread pool (C, per-function target attributes, run-time dispatch).
        .target(name: "CMicroLMKernels"),
        // Events -> facts -> verified plain-language text.
        .target(
            name: "Narration",
            dependencies: ["MicroLM", "Detection", "Telemetry", .product(name: "Logging", package: "swift-log")]
        ),
        // Signed model bundles: manifest, Ed25519 signature, hashed files, the bundle store on disk.
        .target(name: "ModelBundle", dependencies: ["VigilSupport", .product(name: "Crypto", package: "swift-crypto")]),
        // Async MQTT client over libmosquitto.
        .target(name: "MQTT", dependencies: ["CMosquitto", "VigilSupport", .product(name: "Logging", package: "swift-log")]),
        // SQLite store-and-forward queue.
        .target(name: "Outbox", dependencies: ["CSQLite", "VigilSupport", .product(name: "Logging", package: "swift-log")]),
        // The child process of the outbox crash test.
        .executableTarget(
            name: "outbox-tool",
            dependencies: ["Outbox", .product(name: "Logging", package: "swift-log")],
            path: "Sources/OutboxTool"
        ),
        // Configuration, the pipeline, sources and publishers, services.
        .target(
            name: "Agent",
            dependencies: [
                "Telemetry", "Detection", "Narration", "MQTT", "Outbox", "MicroLM", "Simulation", "ModelBundle", "VigilSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The benchmarks behind `vigil bench`: detector speed, SKAB, the quiet corpus, the live agent.
        // Kept out of the product modules; the agent's code paths do not reach them.
        .target(
            name: "VigilBenchmarks",
            dependencies: ["Agent", "Detection", "Simulation", "Telemetry", "MQTT", .product(name: "Logging", package: "swift-log")]
        ),
        // The child process of the upstream crash test: outbox + MQTT transport, killed with SIGKILL.
        .executableTarget(
            name: "UpstreamCrashChild",
            dependencies: ["Agent", "MQTT", "Outbox", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "vigil",
            dependencies: [
                "Agent", "Telemetry", "Simulation", "MicroLM", "Detection", "Narration", "VigilBenchmarks",
                "MQTT", "Outbox", "ModelBundle", "VigilSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // Shared test kit: fixtures, temporary directories, a real mosquitto on a free port.
        .target(name: "VigilTestSupport", dependencies: ["Telemetry", "VigilSupport"]),

        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry", "VigilSupport", "VigilTestSupport"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "VigilBenchmarks", "VigilTestSupport"]),
        .testTarget(name: "MicroLMTests", dependencies: ["MicroLM", "VigilTestSupport"]),
        .testTarget(name: "NarrationTests", dependencies: ["Narration", "VigilTestSupport"]),
        .testTarget(name: "ModelBundleTests", dependencies: ["ModelBundle", "Agent", "Narration", "MicroLM", "VigilTestSupport"]),
        .testTarget(name: "MQTTTests", dependencies: ["MQTT", "VigilTestSupport"]),
        .testTarget(
            name: "OutboxTests",
            dependencies: ["Outbox", "outbox-tool", "CSQLite", "VigilTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "VigilTestSupport", "Telemetry", "MQTT", "Simulation", "Outbox", "UpstreamCrashChild",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            // Configuration files of earlier releases, read by the upgrade tests; the escalation tests' chat server.
            exclude: ["Fixtures", "Support"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
