// hotline-bench: figures for the Protocol library's hot paths.
//
//   swift run -c release hotline-bench            # all
//   swift run -c release hotline-bench codec      # frames encoded+decoded per second, in process
//   swift run -c release hotline-bench link       # request/response over loopback: p50/p99, throughput
//   swift run -c release hotline-bench sip        # SIP messages parsed (and screened) per second
//   hotline-bench sip-parse [SECONDS]              # parsing alone, for a profiler (perf record)
//   bench/records.sh                               # CDRs/s into PostgreSQL (hotline-bench records URL N)
//   bench/rating.sh [COUNT]                        # rating and re-rating a month of calls into PostgreSQL
//   swift run -c release hotline-bench flows      # flow node steps per second (the interpreter)
//   swift run -c release hotline-bench acd        # routing decisions: 5,000 agents, 200 queues, 20,000 calls
//   bench/flow-calls.sh                            # flow-server CPU per call at a fixed SIPp call rate
//   hotline-bench fuzz-links [MINUTES] [SEED]      # the link fuzzer against deploy/up's stack (issue 21)
//   bench/wallboard.sh [SECONDS]                   # the live wallboard at 5,000 agents, 200 queues (hotline-bench board)
//   swift run -c release hotline-bench pacing [SEEDS] # outbound dialling modes on virtual time: occupancy and abandon rate
//   hotline-bench rtp-load --server H:P --calls N ...  # echo calls over SIP with every echoed RTP packet checked (issue 20)
//   GEN=rtp-load bench/media-calls.sh [N...]            # the channel loops at N calls with that generator instead of SIPp
//
// Bounded in count and time; traffic only on 127.0.0.1.
import Dispatch
import Foundation
import Logging
import Protocol
import CTServerKit

func now() -> UInt64 { monotonicNanoseconds() }

func header() {
    print("hotline-bench  cores=\(ProcessInfo.processInfo.activeProcessorCount)  \(HotlineVersion.software)")
}

func benchCodec() {
    let codec = FrameCodec(compressionThreshold: 4096)
    let small = Frame(type: Heartbeat.messageType, body: Heartbeat(sentAtMs: 123_456).encodedBody())
    let nodes = (0..<6).map { i in
        NodeInfo(role: .flowServer, name: "flow-\(i)", address: "10.0.0.\(i):7200", software: "hotline/0.1.0", protocolVersion: 1,
                 uptimeSeconds: 86400, attachedTo: "ct-1", state: "up")
    }
    let medium = Frame(type: MessageCatalogue.topology, flags: [.response], correlationID: 77, body: TopologyReport(nodes: nodes).encodedBody())
    for (name, frame, count) in [("heartbeat (\(small.body.count) B body)", small, 2_000_000), ("topology (\(medium.body.count) B body)", medium, 500_000)] {
        var buffer = ByteBuffer(capacity: 1 << 16)
        var decoded = 0
        let start = now()
        for i in 0..<count {
            try! codec.encode(frame, into: &buffer)
            if i % 64 == 63 {
                while let _ = try! codec.decode(&buffer) { decoded += 1 }
                buffer.discardReadBytes()
            }
        }
        while let _ = try! codec.decode(&buffer) { decoded += 1 }
        let secs = Double(now() - start) / 1e9
        precondition(decoded == count)
        print(String(format: "codec  %-28@ %10.0f frames/s encoded+decoded  (%d in %.2f s)", name as NSString, Double(count) / secs, count, secs))
    }
    // Message-level: TLV encode + frame + decode + TLV decode.
    let count = 300_000
    let start = now()
    var buffer = ByteBuffer(capacity: 1 << 16)
    for _ in 0..<count {
        let m = TopologyReport(nodes: nodes)
        try! codec.encode(Frame(type: TopologyReport.messageType, body: m.encodedBody()), into: &buffer)
        let f = try! codec.decode(&buffer)!
        _ = try! TopologyReport.decode(f.body)
        buffer.discardReadBytes()
    }
    let secs = Double(now() - start) / 1e9
    print(String(format: "codec  %-28@ %10.0f messages/s (TLV+frame, both ways)", "topology message" as NSString, Double(count) / secs))
}

func benchLink() throws {
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let config = LinkConfiguration(secret: Array("bench-secret-123".utf8), heartbeatIntervalMs: 2000, requestTimeoutMs: 10_000)
    let serverLoop = try EventLoop()
    _ = serverLoop.startThread(name: "bench-server")
    let clientLoop = try EventLoop()
    _ = clientLoop.startThread(name: "bench-client")
    let echo = MessageType(rawValue: 0x7F01)
    let listener = try serverLoop.submitAndWait {
        let l = try Listener(loop: serverLoop, address: try SocketAddress(host: "127.0.0.1", port: 0), configuration: config,
                             identity: LinkIdentity(role: .ctServer, name: "bench-ct"), acceptedRoles: [.flowServer], logger: logger)
        l.onAccept = { c in
            c.onRequest = { conn, frame in
                conn.send(Frame(type: frame.type, flags: [.response], correlationID: frame.correlationID, body: frame.body))
            }
        }
        return l
    }
    let dialer = try clientLoop.submitAndWait {
        let d = Dialer(loop: clientLoop, host: "127.0.0.1", port: listener.boundAddress.port, configuration: config,
                       identity: LinkIdentity(role: .flowServer, name: "bench-flow"), expectedPeerRoles: [.ctServer], logger: logger)
        d.start()
        return d
    }
    while (try clientLoop.submitAndWait { dialer.established == nil }) { usleep(1000) }
    let body = TopologyReport(nodes: [NodeInfo(role: .flowServer, name: "flow-1", address: "127.0.0.1:7200", software: "hotline/0.1.0",
                                               protocolVersion: 1, uptimeSeconds: 1, attachedTo: "ct-1", state: "up")]).encodedBody()

    // Latency: one request at a time.
    let n = 20_000
    let done = DispatchSemaphore(value: 0)
    var samples = [UInt64]()
    samples.reserveCapacity(n)
    clientLoop.execute {
        let c = dialer.established!
        func next(_ i: Int) {
            if i == n { done.signal(); return }
            let t0 = now()
            c.requestFrame(Frame(type: echo, body: body)) { _ in
                samples.append(now() - t0)
                next(i + 1)
            }
        }
        next(0)
    }
    done.wait()
    samples.sort()
    func pct(_ p: Double) -> Double { Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1000 }
    print(String(format: "link   round trip, 1 in flight       p50 %.1f µs  p99 %.1f µs  max %.1f µs  (%d requests, %d B body)",
                 pct(0.50), pct(0.99), Double(samples.last!) / 1000, n, body.count))

    // Throughput: a window of requests in flight.
    for window in [16, 256] {
        let total = 200_000
        let finished = DispatchSemaphore(value: 0)
        let start = now()
        clientLoop.execute {
            let c = dialer.established!
            var sent = 0, received = 0
            func issue() {
                guard sent < total else { return }
                sent += 1
                c.requestFrame(Frame(type: echo, body: body)) { r in
                    if case .failure(let e) = r { fatalError("\(e)") }
                    received += 1
                    if received == total { finished.signal() } else { issue() }
                }
            }
            for _ in 0..<window { issue() }
        }
        finished.wait()
        let secs = Double(now() - start) / 1e9
        print(String(format: "link   throughput, %3d in flight     %10.0f requests/s  (%d in %.2f s)", window, Double(total) / secs, total, secs))
    }
    try clientLoop.submitAndWait { dialer.stop() }
    try serverLoop.submitAndWait { listener.close() }
    clientLoop.stop()
    serverLoop.stop()
}

let which = CommandLine.arguments.dropFirst().first ?? "all"
header()
if which == "all" || which == "sip" { benchSIP() }
if which == "sip-parse" { benchSIPParseOnly(seconds: CommandLine.arguments.count > 2 ? Double(CommandLine.arguments[2]) ?? 10 : 10) }
if which == "all" || which == "codec" { benchCodec() }
if which == "all" || which == "link" { try benchLink() }
if which == "all" || which == "flows" { try benchFlows() }
if which == "all" || which == "acd" { benchACD() }
if which == "records" {
    let args = Array(CommandLine.arguments.dropFirst(2))
    guard let url = args.first else { print("usage: hotline-bench records POSTGRES_URL [COUNT]"); exit(2) }
    try benchRecords(url: url, count: args.count > 1 ? Int(args[1]) ?? 20000 : 20000)
}
if which == "rating" {
    let args = Array(CommandLine.arguments.dropFirst(2))
    guard let url = args.first else { print("usage: hotline-bench rating POSTGRES_URL [COUNT]"); exit(2) }
    try benchRating(url: url, count: args.count > 1 ? Int(args[1]) ?? 1_000_000 : 1_000_000)
}
if which == "pacing" {
    benchPacing(seeds: CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 1 : 1)
}
if which == "board" {
    let args = Array(CommandLine.arguments.dropFirst(2))
    guard args.count >= 2 else { print("usage: hotline-bench board POSTGRES_URL FLOW_SERVER_BINARY [SECONDS]"); exit(2) }
    try benchBoard(url: args[0], flowServer: args[1], seconds: args.count > 2 ? Double(args[2]) ?? 10 : 10)
}
if which == "rtp-load" {
    exit(benchRTPLoad(Array(CommandLine.arguments.dropFirst(2))))
}
if which == "fuzz-links" {
    let args = Array(CommandLine.arguments.dropFirst(2))
    do {
        try benchFuzzLinks(minutes: args.first.flatMap(Double.init) ?? 10, seed: args.count > 1 ? UInt64(args[1]) ?? 21 : 21)
    } catch {
        print("fuzz-links: \(error)")
        exit(1)
    }
}
