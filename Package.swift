// swift-tools-version:6.0
import PackageDescription

// Layout (docs/architecture.md): each service is a library target with all of its
// logic plus a thin executable target (only main.swift) so tests and benchmarks can import it.
let package = Package(
    name: "Hotline",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ct-server", targets: ["CTServer"]),
        .executable(name: "flow-server", targets: ["FlowServer"]),
        .executable(name: "app-operate", targets: ["AppOperate"]),
        .executable(name: "hotline-bench", targets: ["HotlineBench"]),
        .library(name: "Protocol", targets: ["Protocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // Metrics: the swift-metrics API, exposed in Prometheus's text format (every service).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        // The browser desktop (App-Operate only; never on the links between the services).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.2.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
    ],
    targets: [
        // Thin C modules. System libraries are found through pkg-config.
        .target(name: "CPosix", path: "Sources/CPosix"),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSpanDSP", path: "Sources/CSpanDSP", pkgConfig: "spandsp",
                       providers: [.apt(["libspandsp-dev"])]),
        .systemLibrary(name: "CSpeexDSP", path: "Sources/CSpeexDSP", pkgConfig: "speexdsp",
                       providers: [.apt(["libspeexdsp-dev"])]),
        .systemLibrary(name: "CLibURing", path: "Sources/CLibURing", pkgConfig: "liburing",
                       providers: [.apt(["liburing-dev"])]),
        // The channel loop's batched datagram I/O over io_uring (a tick's receives in one
        // submission, its sends in another).
        .target(name: "CRTPRing", dependencies: ["CLibURing"], path: "Sources/CRTPRing"),

        .target(
            name: "Protocol",
            dependencies: [
                "CPosix", "COpenSSL", "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/Protocol"
        ),

        .target(name: "CTServerKit",
                dependencies: ["Protocol", "CPosix", "CSpanDSP", "CSpeexDSP", "CRTPRing",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Yams", package: "Yams")],
                path: "Sources/CTServer", exclude: ["Main"]),
        .executableTarget(name: "CTServer",
                          dependencies: ["CTServerKit",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/CTServer/Main"),

        .target(name: "FlowServerKit",
                dependencies: ["Protocol", "CPosix", "CLibPQ", "CZlib",
                               .product(name: "HeapModule", package: "swift-collections"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Yams", package: "Yams")],
                path: "Sources/FlowServer", exclude: ["Main"],
                resources: [.copy("Storage/Migrations")]),
        .executableTarget(name: "FlowServer",
                          dependencies: ["FlowServerKit",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/FlowServer/Main"),

        .target(name: "AppOperateKit",
                dependencies: ["Protocol",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Yams", package: "Yams")],
                path: "Sources/AppOperate", exclude: ["Main", "Web"]),
        // The browser desktop: Hummingbird serves the pages (resources) and WebSockets; each
        // operator's session is an authenticated binary link to a Flow-Server (AppOperateKit).
        .target(name: "AppOperateWeb",
                dependencies: ["AppOperateKit", "Protocol",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdCore", package: "hummingbird"),
                               .product(name: "HummingbirdTLS", package: "hummingbird"),
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOSSL", package: "swift-nio-ssl"),
                               .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket")],
                path: "Sources/AppOperate/Web", exclude: [], resources: [.copy("Static")]),
        .executableTarget(name: "AppOperate",
                          dependencies: ["AppOperateKit", "AppOperateWeb", "FlowServerKit",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/AppOperate/Main"),

        .executableTarget(name: "HotlineBench",
                          dependencies: ["Protocol", "CPosix", "CRTPRing", "CTServerKit", "FlowServerKit", "TestSupport"],
                          path: "Benchmarks/FrameCodec"),

        .target(name: "TestSupport", dependencies: ["Protocol", "CPosix"], path: "Tests/TestSupport"),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol", "TestSupport", "CPosix",
                                                          .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(name: "CTServerTests", dependencies: ["CTServerKit", "TestSupport"]),
        .testTarget(name: "FlowServerTests", dependencies: ["FlowServerKit", "TestSupport", "Protocol"]),
        .testTarget(name: "AppOperateTests", dependencies: ["AppOperateKit", "TestSupport"]),
        .testTarget(name: "EndToEnd", dependencies: ["Protocol", "TestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
