/// Agents on other Flow-Servers behind the same CT-Server (agent_presence): calls for a queue
/// with nobody here go where somebody is.
extension CallDistributor {
    /// Whether an agent logged in here serves `queue` (or it is a local agent's personal queue).
    func hasLocalAgents(for queue: String) -> Bool { staffed(queue) > 0 }

    /// Another Flow-Server to send a call for `queue` to: one with agents for it when none is
    /// logged in here, or one with a ready agent when none is ready here and calls already wait.
    func remoteServer(for queue: String) -> String? {
        if !hasLocalAgents(for: queue) { return remoteReady[queue]?.first ?? remoteQueues[queue]?.first }
        if engine.readyAgents(in: queue) == 0, let ready = remoteReady[queue]?.first { return ready }
        return nil
    }

    /// Calls that have waited here 5 s or more with no ready agent here, while another Flow-Server
    /// has a ready agent for their queue, go there (oldest first, one per ready server and queue).
    func rebalance() {
        var sent: Set<String> = []
        for entry in calls.values.sorted(by: { $0.call.enqueuedAt < $1.call.enqueuedAt }) where entry.call.isWaiting {
            let q = entry.call.queue
            guard entry.onHandOver != nil, now - entry.call.enqueuedAt >= 5, engine.readyAgents(in: q) == 0,
                  let server = remoteReady[q]?.first(where: { !sent.contains("\(q)@\($0)") }) else { continue }
            sent.insert("\(q)@\(server)")
            feed(entry, .handOver(server: server))
        }
    }

    /// This server's agents for agent_presence: (code, queues, state).
    var presence: [(String, [String], String)] {
        agents.values.map { ($0.code, $0.queues.sorted(), $0.machine.state.name) }
    }
}
