import AppOperateKit
import ArgumentParser
import Foundation
import Protocol

/// A supervisor's action on an agent of any Flow-Server (SupervisorCommand): the Flow-Server
/// checks the role and carries it out where the agent is logged in.
struct SuperviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervise",
        abstract: "Supervisor actions: listen, whisper, barge, stop-monitor, intercept, force-release, force-ready, force-not-ready, force-logout.",
        discussion: """
        app-operate supervise ACTION AGENT [--reason TEXT] [--extension PHONE]
        listen / whisper / barge: your phone (--extension, else your own) is rung with auto-answer and tapped
        into AGENT's call; asked again with another mode, the same leg changes mode.
        stop-monitor: hangs up your monitoring leg (no AGENT).
        intercept: you take AGENT's caller (your monitoring leg when you are listening to AGENT, else your
        phone is rung first); AGENT's leg is released.
        force-release: clears AGENT's call (--reason is written to the record).
        force-ready, force-not-ready [--reason], force-logout: on a call, not ready and logout take effect
        when the call ends.
        The agent may be logged in to any Flow-Server behind the same CT-Server.
        """)

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The action.") var action: String
    @Argument(help: "The agent's work code.") var agent: String = ""
    @Option(help: "Why (force-release, force-not-ready).") var reason: String = ""
    @Option(name: .customLong("extension"), help: "Your phone for listen, whisper, barge and intercept.") var sipExtension: String = ""
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard let a = SupervisorCommand.Action(word: action) else {
            throw ValidationError("actions: \(SupervisorCommand.Action.allCases.map(\.word).joined(separator: ", "))")
        }
        guard a == .stopMonitor || !agent.isEmpty else { throw ValidationError("\(action) needs the agent's work code") }
        guard connection.workCode != nil else { throw ValidationError("give --code (or HOTLINE_OPERATOR_CODE)") }
        let client = try connection.open()
        defer { client.close() }
        do {
            let r = try client.request(SupervisorCommand(action: a, agent: agent, sipExtension: sipExtension, reason: reason), expecting: AgentReply.self,
                                       timeoutMs: 20_000)
            print(json ? AgentCLI.jsonText(["state": r.state, "text": r.text]) : r.text + (r.state.isEmpty ? "" : "  [\(r.state)]"))
        } catch let e as ProtocolError {
            if json { print(AgentCLI.jsonText(["error": e.reason])) } else { FileHandle.standardError.write(Data("\(action): \(e.reason)\n".utf8)) }
            throw ExitCode(1)
        }
    }
}
