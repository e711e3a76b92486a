import Foundation
import Protocol

/// The interactive agent console: a status line, the pop-up for the offered call, the current
/// call, the queue, messages, single-key commands and a help line. Events from the Flow-Server
/// redraw it at once; the statistics and the queue are refreshed every two seconds.
public final class AgentConsole {
    let client: FlowClient
    let terminal: Terminal
    private var screen: AgentScreen
    private let lock = NSLock()
    private var running = true

    public init(client: FlowClient, session: OperatorSession, server: String, terminal: Terminal = Terminal()) {
        self.client = client
        self.terminal = terminal
        screen = AgentScreen(code: session.workCode, server: server)
        screen.name = session.name
        screen.state = session.state
    }

    private func update(_ f: (inout AgentScreen) -> Void) {
        lock.lock()
        f(&screen)
        let lines = screen.render(width: terminal.columns)
        lock.unlock()
        terminal.draw(lines)
    }

    /// Sends a command; a refusal becomes a message on the screen.
    @discardableResult
    func send(_ action: String, _ args: [String: String] = [:]) -> AgentReply? {
        do {
            let r = try client.request(AgentCommand(action: action, arguments: args), expecting: AgentReply.self)
            update { s in
                if !r.state.isEmpty, r.state != s.state { s.state = r.state; s.stateSince = Date() }
                if action != "status" && action != "queue" { s.note(r.text) }
            }
            return r
        } catch let e as ProtocolError {
            update { $0.note("\(action): \(e.reason)") }
        } catch {
            update { $0.note("\(action): \(error)") }
        }
        return nil
    }

    private func refresh() {
        if let st = send("status") {
            update { s in
                s.stats = st.fields
                s.phone = st.fields["extension"] ?? s.phone
                s.mode = st.fields["mode"] ?? s.mode
                if let r = st.fields["reason"] { s.reason = r }
            }
        }
        if let q = send("queue") { update { $0.queue = q.rows } }
    }

    /// Reads a line at the bottom of the screen (Enter ends it, Escape cancels).
    private func ask(_ label: String) -> String? {
        update { $0.input = (label, "") }
        defer { update { $0.input = nil } }
        var text = ""
        while let k = terminal.readKey() {
            switch k {
            case 13, 10: return text
            case 27: return nil
            case 127, 8: if !text.isEmpty { text.removeLast() }
            default: if k >= 32 { text.append(Character(UnicodeScalar(k))) }
            }
            let t = text
            update { $0.input = (label, t) }
        }
        return nil
    }

    /// Runs until the agent logs out or quits; returns the exit status.
    public func run() -> Int32 {
        terminal.enterRawMode()
        defer { terminal.restore() }
        client.onEvent { [weak self] frame in
            guard let self, frame.type == AgentEventMessage.messageType, let e = try? AgentEventMessage.decode(frame.body) else { return }
            self.update { $0.apply(e) }
            if e.kind == "state" || e.kind == "ended" || e.kind == "offered" { DispatchQueue.global().async { self.refresh() } }
        }
        client.onClose { [weak self] reason in
            self?.update { $0.note("link to the Flow-Server lost: \(reason.reason) — press Q") }
        }
        let ticker = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
        ticker.schedule(deadline: .now() + 2, repeating: 2)
        ticker.setEventHandler { [weak self] in self?.refresh() }
        ticker.resume()
        defer { ticker.cancel() }
        refresh()
        while running, let k = terminal.readKey() {
            switch Character(UnicodeScalar(k)) {
            case "r":
                if screen.reason.isEmpty || screen.stats["locked"] != "yes" { send("ready") }
                else if let pw = ask("lock password") { send("ready", ["password": pw]) }
            case "n":
                if let reason = ask("not-ready reason (Enter: break)") {
                    let lock = ask("lock password (Enter: none)") ?? ""
                    send("not-ready", ["reason": reason.isEmpty ? "break" : reason, "lock": lock])
                }
            case "a": send("answer")
            case "j": send("reject")
            case "h": send("hangup")
            case "o": send(screen.current?["held"] != nil ? "retrieve" : "hold")
            case "t": if let to = ask("transfer to (agent:CODE, queue:NAME, flow:NAME or a number)"), !to.isEmpty { send("transfer", ["to": to]) }
            case "c": if let to = ask("consult (agent:CODE or a number)"), !to.isEmpty { send("consult", ["to": to]) }
            case "k": send("complete")
            case "x": send("cancel")
            case "3": send("conference")
            case "f": if let node = ask("return to the flow at node (Enter: the queue's)") { send("return", node.isEmpty ? [:] : ["node": node]) }
            case "d": if let to = ask("dial (agent:CODE or a number)"), !to.isEmpty { send("call", ["to": to]) }
            case "l":
                if send("logout") != nil { running = false }
            case "Q", "\u{03}": running = false
            case "?": update { $0.showHelp.toggle() }
            default: update { _ in }
            }
        }
        return 0
    }
}
