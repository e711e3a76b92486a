import AppOperateKit
import ArgumentParser
import Foundation
import Protocol

/// `app-operate board`: the live wallboard of every Flow-Server behind the CT-Server (supervisor
/// or admin). With --watch it stays connected and shows each change as the Flow-Server pushes it.
struct BoardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "board",
        abstract: "The live wallboard: queues (waiting, longest wait, agents by state, today and the last 15 minutes), waiting callers, agents.",
        discussion: """
        Figures per queue, across all Flow-Servers: offered, answered, abandoned, service level, ASA, AHT and occupancy
        for the day so far (equal to app-operate report for today) and for the last 15 minutes.
        --watch redraws on every change (no polling); with --json each change is one JSON line.
        """)

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Stay connected and show every change as it is pushed.") var watch = false
    @Flag(help: "Print JSON (with --watch: one line per change).") var json = false

    func run() throws {
        guard connection.workCode != nil else { throw ValidationError("give --code (or HOTLINE_OPERATOR_CODE)") }
        let client = try connection.open()
        defer { client.close() }
        nonisolated(unsafe) var model = BoardModel()
        let lock = NSLock()
        let tty = isatty(1) == 1 && !json
        func show(_ v: BoardView) {
            lock.lock()
            defer { lock.unlock() }
            model.apply(v)
            if json {
                print(BoardFormatter.json(v, receivedMs: UInt64(Date().timeIntervalSince1970 * 1000)))
            } else {
                if tty && watch { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(BoardFormatter.table(model))
                if watch { print("\n\(Date()) — watching (Ctrl-C to stop)") }
            }
            fflush(stdout)
        }
        let closed = DispatchSemaphore(value: 0)
        // A big board comes in parts: the response says how many pushes follow with the rest.
        let parts = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var first: BoardView?
        nonisolated(unsafe) var rest: [BoardView] = []
        client.onEvent { frame in
            guard frame.type == BoardPush.messageType, let p = try? BoardPush.decode(frame.body) else { return }
            lock.lock()
            let collecting = first == nil || rest.count < Int(first!.following)
            if collecting { rest.append(p.view) }
            lock.unlock()
            if collecting { parts.signal() } else if watch { show(p.view) }
        }
        client.onClose { _ in closed.signal(); parts.signal() }
        do {
            let v = try client.request(BoardRequest(watch: watch), expecting: BoardView.self, timeoutMs: 20_000)
            lock.lock()
            first = v
            let early = rest.count
            lock.unlock()
            for _ in early..<max(early, Int(v.following)) { _ = parts.wait(timeout: .now() + 20) }
            lock.lock()
            var whole = v
            for p in rest.prefix(Int(v.following)) {
                whole.queues += p.queues
                whole.agents += p.agents
            }
            whole.following = 0
            lock.unlock()
            show(whole)
        } catch let e as ProtocolError {
            FileHandle.standardError.write(Data("board: \(e.reason)\n".utf8))
            throw ExitCode(1)
        }
        if watch { closed.wait() }
    }
}
