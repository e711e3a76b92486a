import Foundation
import Logging
import Protocol

/// `hotline-bench board POSTGRES_URL FLOW_SERVER_BINARY [SECONDS]` (bench/wallboard.sh runs it):
/// the live wallboard of a real flow-server process at 5,000 agents and 200 queues. This
/// program plays the CT-Server (the flow-server attaches to it) and through it another
/// Flow-Server ("peer-1") with 5,000 agents, each in 5 of the 200 queues, and 40,000 calls
/// finished today; it also watches the board as a supervisor's App-Operate (`sup`, password
/// `bench-sup-password`, added by the script). Then, for each rate, it sends that many board
/// events per second for SECONDS (in batches every 10 ms, as PeerBroadcast BoardUpdates: 60 %
/// agent state changes, 20 % waiting lists, 20 % finished calls) and prints the flow-server's
/// CPU and the delay from an agent's change leaving here to the push that shows it arriving
/// back (p50/p99/max), and pushes per second.
func benchBoard(url: String, flowServer: String, seconds: Double) throws {
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let flowSecret = ProcessInfo.processInfo.environment["HOTLINE_FLOW_LINK_SECRET"] ?? "bench-secret-123"
    let appSecret = ProcessInfo.processInfo.environment["HOTLINE_APP_LINK_SECRET"] ?? "bench-secret-456"
    let loop = try EventLoop()
    _ = loop.startThread(name: "bench-board")
    final class State: @unchecked Sendable {
        var flow: Connection?
        var pending: [String: UInt64] = [:]   // agent → when its oldest unseen change was sent (ns)
        var delays: [Double] = []
        var pushes = 0
        var pushBytes = 0
        var fullSeen = false
    }
    let st = State()
    let listener = try loop.submitAndWait {
        let l = try Listener(loop: loop, address: try SocketAddress(host: "127.0.0.1", port: 0),
                             configuration: LinkConfiguration(secret: Array(flowSecret.utf8), heartbeatIntervalMs: 2000, requestTimeoutMs: 10_000),
                             identity: LinkIdentity(role: .ctServer, name: "bench-ct"), acceptedRoles: [.flowServer], logger: logger)
        l.onAccept = { c in
            c.onEstablished = { conn in st.flow = conn }
            c.onEvent = { _, _ in }
            c.onRequest = { conn, frame in conn.respond(to: frame, error: ProtocolError(.unknownMessage, "bench ct-server")) }
        }
        return l
    }
    let ctPort = listener.boundAddress.port
    let spool = FileManager.default.temporaryDirectory.appendingPathComponent("board-bench-spool-\(getpid())")
    let proc = Process()
    proc.executableURL = URL(fileURLWithPath: flowServer)
    proc.arguments = ["--name", "flow-bench", "--ct", "127.0.0.1:\(ctPort)", "--listen", "127.0.0.1:0", "--log-level", "warning",
                      "--database-url", url, "--spool", spool.path]
    var env = ProcessInfo.processInfo.environment
    env["HOTLINE_FLOW_LINK_SECRET"] = flowSecret
    env["HOTLINE_APP_LINK_SECRET"] = appSecret
    proc.environment = env
    let out = Pipe()
    proc.standardOutput = out
    proc.standardError = FileHandle.standardError
    try proc.run()
    defer {
        proc.terminate()
        proc.waitUntilExit()
        try? FileManager.default.removeItem(at: spool)
    }
    // The ready line names the app link's port.
    var text = ""
    let deadline = Date().addingTimeInterval(30)
    while !text.contains("app_link="), Date() < deadline {
        let d = out.fileHandleForReading.availableData
        if d.isEmpty { usleep(10_000) } else { text += String(decoding: d, as: UTF8.self) }
    }
    guard let r = text.range(of: "app_link=") else { print("board: no ready line from flow-server: \(text)"); exit(1) }
    let appPort = Int(text[r.upperBound...].prefix { $0 != " " && $0 != "\n" }.split(separator: ":").last ?? "") ?? 0
    while (try loop.submitAndWait { st.flow == nil }) { usleep(10_000) }

    // The supervisor's App-Operate watching the board.
    let dialer = try loop.submitAndWait {
        let d = Dialer(loop: loop, host: "127.0.0.1", port: appPort,
                       configuration: LinkConfiguration(secret: Array(appSecret.utf8), heartbeatIntervalMs: 2000, requestTimeoutMs: 60_000),
                       identity: LinkIdentity(role: .appOperate, name: "bench-board"), expectedPeerRoles: [.flowServer], logger: logger)
        d.onConnection = { c in
            c.onEvent = { _, frame in
                guard frame.type == BoardPush.messageType, let p = try? BoardPush.decode(frame.body) else { return }
                let t = monotonicNanoseconds()
                st.pushes += 1
                st.pushBytes += frame.body.count
                for a in p.view.agents {
                    if let code = a["agent"], let sent = st.pending.removeValue(forKey: code) { st.delays.append(Double(t - sent) / 1e6) }
                }
            }
        }
        d.start()
        return d
    }
    while (try loop.submitAndWait { dialer.established == nil }) { usleep(10_000) }
    let ready = DispatchSemaphore(value: 0)
    loop.execute {
        let c = dialer.established!
        c.request(OperatorLogin(workCode: "sup", password: "bench-sup-password"), expecting: OperatorSession.self) { r in
            guard case .success = r else { print("board: login refused: \(r)"); exit(1) }
            c.request(BoardRequest(watch: true), expecting: BoardView.self) { r in
                guard case .success = r else { print("board: board refused: \(r)"); exit(1) }
                st.fullSeen = true
                ready.signal()
            }
        }
    }
    ready.wait()

    // peer-1: 5,000 agents in 200 queues (5 each), then 40,000 calls of today.
    var rng = SystemRandomNumberGenerator()
    let queues = (0..<200).map { "q\($0)" }
    let states = ["ready", "reserved", "ringing", "talking", "wrap-up", "not-ready"]
    func wallMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
    var agents = (0..<5000).map { i in
        BoardUpdate.Agent(code: "a\(i)", state: "ready", sinceMs: wallMs(), queues: (0..<5).map { queues[(i * 5 + $0 * 41) % 200] }.sorted(), calls: 0, talkMs: 0)
    }
    func send(_ u: BoardUpdate) {
        let frame = Frame(type: PeerBroadcast.messageType, body: PeerBroadcast(peer: "peer-1", innerType: BoardUpdate.messageType, body: u.encodedBody()).encodedBody())
        loop.execute { st.flow?.send(frame) }
    }
    var nextCall = 0
    func call() -> BoardUpdate.Call {
        nextCall += 1
        let end = wallMs() - UInt64.random(in: 0...3_600_000, using: &rng)
        let arrived = end - 300_000
        let answered = Bool.random(using: &rng)
        return BoardUpdate.Call(id: "bench-\(nextCall)", arrivedMs: arrived, queuedMs: arrived + 20_000, offeredMs: arrived + 25_000,
                                answeredMs: answered ? arrived + 30_000 : nil, endedMs: end, queue: queues.randomElement(using: &rng)!,
                                agent: answered ? "a\(Int.random(in: 0..<5000, using: &rng))" : "", flow: "main",
                                disposition: answered ? "answered" : "abandoned", holdMs: 0, wrapupMs: 10_000, serviceLevelSeconds: 20, shortAbandonSeconds: 5)
    }
    for part in BoardUpdate(server: "peer-1", full: true, sentMs: wallMs(), agents: agents, roster: agents.map(\.code)).chunked() { send(part) }
    for _ in 0..<40 { send(BoardUpdate(server: "peer-1", full: false, sentMs: wallMs(), calls: (0..<1000).map { _ in call() })) }
    Thread.sleep(forTimeInterval: 3)
    print("board  flow-server with 5000 agents, 200 queues, 40000 calls today (from peer-1); watching as a supervisor")

    func cpuTicks() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(proc.processIdentifier)/stat", encoding: .utf8),
              let close = s.lastIndex(of: ")") else { return 0 }
        let f = s[s.index(after: close)...].split(separator: " ")
        return (Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)
    }
    let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
    for rate in [1_000, 5_000, 20_000, 50_000] {
        try loop.submitAndWait { st.delays = []; st.pushes = 0; st.pushBytes = 0; st.pending = [:] }
        let perBatch = max(1, rate / 100)
        let batches = Int(seconds * 100)
        let c0 = cpuTicks()
        let start = monotonicNanoseconds()
        var sent = 0
        for b in 0..<batches {
            var u = BoardUpdate(server: "peer-1", full: false, sentMs: wallMs())
            var changed: [String] = []
            for _ in 0..<perBatch {
                let k = Int.random(in: 0..<10, using: &rng)
                if k < 6 {
                    let i = Int.random(in: 0..<5000, using: &rng)
                    agents[i].state = states.randomElement(using: &rng)!
                    agents[i].sinceMs = wallMs()
                    if agents[i].state == "talking" { agents[i].calls += 1 }
                    u.agents.append(agents[i])
                    changed.append(agents[i].code)
                } else if k < 8 {
                    let q = queues.randomElement(using: &rng)!
                    u.waiting[q] = (0..<Int.random(in: 0...5, using: &rng)).map { j in
                        BoardUpdate.Caller(call: "w-\(q)-\(j)", caller: "1380013\(String(format: "%04d", j))", arrivedMs: wallMs() - UInt64(j * 1000), priority: 0)
                    }
                } else {
                    u.calls.append(call())
                }
            }
            sent += perBatch
            let t = monotonicNanoseconds()
            loop.execute { for code in changed where st.pending[code] == nil { st.pending[code] = t } }
            send(u)
            // Pace: batch b goes out at start + b × 10 ms.
            let due = start + UInt64(b + 1) * 10_000_000
            let nowNs = monotonicNanoseconds()
            if due > nowNs { usleep(useconds_t((due - nowNs) / 1000)) }
        }
        Thread.sleep(forTimeInterval: 1.5)   // the last pushes arrive
        let secs = Double(monotonicNanoseconds() - start) / 1e9
        let cpu = (cpuTicks() - c0) / hz / secs * 100
        let (delays, pushes, bytes, unseen) = try loop.submitAndWait { (st.delays.sorted(), st.pushes, st.pushBytes, st.pending.count) }
        guard pushes > 0 else { print("board: no push arrived (is the flow-server's link up?)"); exit(1) }
        func p(_ q: Double) -> Double { delays.isEmpty ? .nan : delays[min(delays.count - 1, Int(Double(delays.count) * q))] }
        print(String(format: "board  %6d events/s sent (%d in %.1f s): flow-server CPU %5.1f %%, %4.1f pushes/s (avg %.0f kB), change → push p50 %6.1f ms  p99 %7.1f ms  max %7.1f ms, %d changes not yet pushed",
                     Int(Double(sent) / (secs - 1.5)), sent, secs - 1.5, cpu, Double(pushes) / secs, Double(bytes) / Double(max(1, pushes)) / 1000,
                     p(0.5), p(0.99), delays.last ?? .nan, unseen))
    }
}
