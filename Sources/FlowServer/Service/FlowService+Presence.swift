import Foundation
import Protocol

/// agent_presence: which agents are logged in to which Flow-Server, shared through PostgreSQL,
/// for calls handed to a server with agents and supervisors' actions routed to the agent's server.
extension FlowService {
    /// agent_presence: this server's agents written every 3 s (rows of agents gone removed), and
    /// other servers' fresh rows read back, so calls for queues with no agent here can go there.
    func syncPresence() {
        guard let url = databaseURL else { return }
        let mine = distributor.presence
        let me = name
        queries.async { [weak self] in
            guard let self else { return }
            let r = self.withQueryConnection(url) { db -> ([String: [String]], [String: [String]], [String: String]) in
                try db.transaction {
                    try db.execute("DELETE FROM agent_presence WHERE flow_server = $1 AND NOT (agent = ANY($2::text[]))",
                                   [me, Self.textArray(mine.map(\.0))])
                    for (agent, queues, state) in mine {
                        try db.execute("""
                            INSERT INTO agent_presence (agent, flow_server, queues, state, updated_at) VALUES ($1, $2, $3::text[], $4, now())
                            ON CONFLICT (agent) DO UPDATE SET flow_server = EXCLUDED.flow_server, queues = EXCLUDED.queues, state = EXCLUDED.state, updated_at = now()
                            """, [agent, me, Self.textArray(queues), state])
                    }
                }
                let rows = try db.execute("""
                    SELECT flow_server, q, state FROM agent_presence, unnest(queues) AS q
                    WHERE flow_server <> $1 AND state <> 'logged-out' AND updated_at > now() - interval '15 seconds'
                    ORDER BY agent
                    """, [me])
                var byQueue: [String: [String]] = [:], ready: [String: [String]] = [:]
                for i in 0..<rows.count {
                    guard let s = rows.value(i, "flow_server"), let q = rows.value(i, "q") else { continue }
                    if !(byQueue[q]?.contains(s) ?? false) { byQueue[q, default: []].append(s) }
                    if rows.value(i, "state") == "ready", !(ready[q]?.contains(s) ?? false) { ready[q, default: []].append(s) }
                }
                // Every agent of another Flow-Server, for supervisors' actions routed there.
                let agents = try db.execute("""
                    SELECT agent, flow_server FROM agent_presence
                    WHERE flow_server <> $1 AND state <> 'logged-out' AND updated_at > now() - interval '15 seconds'
                    """, [me])
                var where_: [String: String] = [:]
                for i in 0..<agents.count {
                    if let a = agents.value(i, "agent"), let s = agents.value(i, "flow_server") { where_[a] = s }
                }
                return (byQueue, ready, where_)
            }
            self.loop.execute {
                if case .success(let (byQueue, ready, agents)) = r {
                    self.distributor.remoteQueues = byQueue
                    self.distributor.remoteReady = ready
                    self.operators.supervision.remoteAgents = agents
                    self.distributor.rebalance()
                }
            }
        }
    }

    /// A PostgreSQL text[] literal (passed as a parameter, never spliced into SQL).
    static func textArray(_ items: [String]) -> String {
        "{" + items.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }

    func schedulePresence() {
        _ = loop.schedule(afterMilliseconds: 3000) { [weak self] in
            self?.syncPresence()
            self?.schedulePresence()
        }
    }
}
